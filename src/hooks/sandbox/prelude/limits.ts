// Caps on the built-ins that make one long string from a short call ('x'.repeat(2 ** 29),
// ''.padEnd(n), new Array(n).join(s)), installed in the realm before lockdown() freezes them
// (../realm.ts). isolated-vm's memory limit does not stop one such string: V8 places a single large
// allocation outside the young generation's budget, and the limit is only checked after garbage
// collections, so a 512 MiB string fits in a 32 MiB isolate. A call over the cap throws a RangeError
// and marks the run as over its memory limit (`tripped`, read by boot.ts): the run ends as `memory`
// even if the hook catches the error.
export function capIntrinsics(maxChars: number): { count: number } {
  const tripped = { count: 0 };
  const apply = Reflect.apply;
  const toStr = String;
  const over = (chars: number): RangeError => {
    tripped.count++;
    return new RangeError('a string of ' + chars + ' characters is over the hook memory limit (at most ' + maxChars + ')');
  };
  const integer = (value: unknown): number => {
    const n = Math.trunc(Number(value));
    return Number.isNaN(n) ? 0 : n;
  };
  const proto = String.prototype as unknown as Record<string, (...args: unknown[]) => string>;
  const repeat = proto.repeat!;
  const padStart = proto.padStart!;
  const padEnd = proto.padEnd!;
  const join = Array.prototype.join;
  const methods = {
    repeat(this: unknown, count: unknown) {
      const chars = toStr(this).length * integer(count);
      if (chars > maxChars) throw over(chars);
      return apply(repeat, this, [count]);
    },
    padStart(this: unknown, length: unknown, fill?: unknown) {
      const chars = integer(length);
      if (chars > maxChars) throw over(chars);
      return apply(padStart, this, [length, fill]);
    },
    padEnd(this: unknown, length: unknown, fill?: unknown) {
      const chars = integer(length);
      if (chars > maxChars) throw over(chars);
      return apply(padEnd, this, [length, fill]);
    },
  };
  for (const name of ['repeat', 'padStart', 'padEnd'] as const) {
    Object.defineProperty(String.prototype, name, { value: methods[name], writable: true, configurable: true, enumerable: false });
  }
  const arrayMethods = {
    join(this: { length?: unknown }, separator?: unknown) {
      const length = integer(this === null || this === undefined ? 0 : this.length);
      const gap = separator === undefined ? 1 : toStr(separator).length;
      const least = (length - 1) * gap;
      if (least > maxChars) throw over(least);
      const out = apply(join, this, [separator]) as string;
      if (out.length > maxChars) throw over(out.length);
      return out;
    },
  };
  Object.defineProperty(Array.prototype, 'join', { value: arrayMethods.join, writable: true, configurable: true, enumerable: false });

  // A string doubled by concatenation (s += s) is a rope that costs little until something needs
  // its characters in one piece: then V8 writes them out at once (up to 1 GiB), past the limit
  // before it is checked. The built-ins that would do that (every String.prototype method, the
  // RegExp methods, the global string functions) refuse a string over the cap first.
  const guardStrings = (receiver: unknown, args: unknown[]) => {
    if (typeof receiver === 'string' && receiver.length > maxChars) throw over(receiver.length);
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === 'string' && arg.length > maxChars) throw over(arg.length);
    }
  };
  const guarded = (original: (...args: unknown[]) => unknown) => {
    const wrapper = {
      [original.name](this: unknown, ...args: unknown[]) {
        guardStrings(this, args);
        return apply(original, this, args);
      },
    }[original.name]!;
    Object.defineProperty(wrapper, 'length', { value: original.length });
    return wrapper;
  };
  const guardAll = (target: object, skip: ReadonlyArray<PropertyKey>) => {
    for (const key of Reflect.ownKeys(target)) {
      if (skip.includes(key)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(target, key)!;
      if (typeof descriptor.value !== 'function') continue;
      Object.defineProperty(target, key, { ...descriptor, value: guarded(descriptor.value) });
    }
  };
  guardAll(String.prototype, ['constructor', 'repeat', 'padStart', 'padEnd']);
  guardAll(RegExp.prototype, ['constructor', 'compile']);
  const globals = globalThis as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['parseInt', 'parseFloat', 'encodeURI', 'encodeURIComponent', 'decodeURI', 'decodeURIComponent', 'escape', 'unescape']) {
    if (typeof globals[name] === 'function') Object.defineProperty(globalThis, name, { value: guarded(globals[name]), writable: true, configurable: true, enumerable: false });
  }
  for (const name of ['parse', 'stringify'] as const) {
    Object.defineProperty(JSON, name, { value: guarded(JSON[name] as (...args: unknown[]) => unknown), writable: true, configurable: true, enumerable: false });
  }
  return tripped;
}
