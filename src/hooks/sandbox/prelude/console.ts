// The isolate's console: every line is formatted here (as Node's console would, more or less,
// bounded in size) and handed to the host's log bridge, which redacts secrets and keeps the run's lines.
import { ErrorCtor, freeze, isArray, isView, keys, StringCtor, stringify } from './intrinsics.ts';

/** The prelude's own URL classes once built (inspect shows them as Node does), see boot.ts. */
export interface BuiltGlobals {
  [name: string]: unknown;
}

/** A short, bounded rendering of any value. */
export function inspect(value: unknown, depth: number, seen: unknown[], built: BuiltGlobals): string {
  const MAX_TEXT = 8000; // the host redacts secrets, then cuts each line to its own cap
  const t = typeof value;
  if (t === 'string') return depth === 0 ? (value as string) : stringify(value);
  if (t === 'number' || t === 'boolean' || value === undefined || value === null) return StringCtor(value);
  if (t === 'bigint') return StringCtor(value) + 'n';
  if (t === 'symbol') return (value as symbol).toString();
  if (t === 'function') return '[Function: ' + ((value as { name?: string }).name || 'anonymous') + ']';
  if (value instanceof ErrorCtor) {
    const stack = value.stack;
    if (typeof stack !== 'string') return value.name + ': ' + value.message;
    return stack
      .split('\n')
      .filter((line) => !line.includes('tessera:realm'))
      .join('\n');
  }
  const object = value as Record<string, unknown>;
  if (seen.includes(value)) return '[Circular]';
  if (value instanceof Date) return isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof RegExp) return value.toString();
  const { URL, URLSearchParams } = built as { URL?: new (...args: never[]) => object; URLSearchParams?: new (...args: never[]) => object };
  if (URL && URLSearchParams && (value instanceof URL || value instanceof URLSearchParams)) return object.constructor!.name + ' ' + stringify(object.toString());
  if (depth > 2) return isArray(value) ? '[Array]' : '[Object]';
  const inner = seen.concat([value]);
  const parts: string[] = [];
  let size = 0;
  const add = (text: string) => {
    parts[parts.length] = text;
    size += text.length;
    return size < MAX_TEXT && parts.length < 100;
  };
  if (isArray(value)) {
    for (let i = 0; i < value.length; i++)
      if (!add(inspect(value[i], depth + 1, inner, built))) {
        add('…');
        break;
      }
    return '[ ' + parts.join(', ') + ' ]';
  }
  if (value instanceof Map) {
    for (const [k, v] of value) if (!add(inspect(k, depth + 1, inner, built) + ' => ' + inspect(v, depth + 1, inner, built))) break;
    return 'Map(' + value.size + ') { ' + parts.join(', ') + ' }';
  }
  if (value instanceof Set) {
    for (const v of value) if (!add(inspect(v, depth + 1, inner, built))) break;
    return 'Set(' + value.size + ') { ' + parts.join(', ') + ' }';
  }
  if (isView(value)) return value.constructor.name + '(' + (value as unknown as { length: number }).length + ')';
  for (const k of keys(object)) {
    const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : stringify(k);
    if (!add(key + ': ' + inspect(object[k], depth + 1, inner, built))) {
      add('…');
      break;
    }
  }
  return parts.length === 0 ? '{}' : '{ ' + parts.join(', ') + ' }';
}

/** console.log's format: %s %d %i %f %j %o %O %c and %%, then the other arguments inspected. */
export function formatLine(args: unknown[], built: BuiltGlobals): string {
  const MAX_TEXT = 8000;
  let out = '';
  let i = 0;
  if (typeof args[0] === 'string' && args[0].includes('%') && args.length > 1) {
    const fmt = args[0];
    i = 1;
    for (let j = 0; j < fmt.length; j++) {
      const c = fmt[j]!;
      if (c === '%' && j + 1 < fmt.length) {
        const n = fmt[j + 1]!;
        if (n === '%') {
          out += '%';
          j++;
          continue;
        }
        if ('sdifjoOc'.includes(n)) {
          j++;
          if (i >= args.length) {
            out += '%' + n;
            continue;
          }
          const arg = args[i++];
          if (n === 's') out += typeof arg === 'string' ? arg : inspect(arg, 1, [], built);
          else if (n === 'd' || n === 'i') out += typeof arg === 'bigint' ? arg + 'n' : StringCtor(n === 'i' ? parseInt(arg as string) : Number(arg));
          else if (n === 'f') out += StringCtor(parseFloat(arg as string));
          else if (n === 'j') {
            try {
              out += stringify(arg);
            } catch {
              out += '[Circular]';
            }
          } else if (n === 'c') {
            /* CSS: ignored */
          } else out += inspect(arg, 1, [], built);
          continue;
        }
      }
      out += c;
      if (out.length > MAX_TEXT) break;
    }
  }
  for (; i < args.length && out.length <= MAX_TEXT; i++) out += (out === '' && i === 0 ? '' : ' ') + inspect(args[i], 0, [], built);
  return out.length > MAX_TEXT ? out.slice(0, MAX_TEXT) : out;
}

/**
 * The console object: each line formatted by formatLine and handed to `send` (boot.ts counts a
 * run's lines); a line that cannot be printed says so instead of throwing into the hook.
 */
export function makeConsole(send: (level: string, text: string) => void, built: BuiltGlobals) {
  function emit(level: string, args: unknown[]): void {
    let text;
    try {
      text = formatLine(args, built);
    } catch (e) {
      text = '[unprintable: ' + (e && (e as Error).message) + ']';
    }
    send(level, text);
  }

  const console: Record<string, (...args: unknown[]) => void> = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = {
      [level](...args: unknown[]) {
        emit(level, args);
      },
    }[level]!;
  }
  console.trace = function trace(...args: unknown[]) {
    emit('log', args);
  };
  console.dir = function dir(value: unknown) {
    emit('log', [value]);
  };
  console.assert = function assert(condition: unknown, ...args: unknown[]) {
    if (!condition) emit('error', (['Assertion failed' + (args.length ? ':' : '')] as unknown[]).concat(args));
  };
  return { console: freeze(console) };
}
