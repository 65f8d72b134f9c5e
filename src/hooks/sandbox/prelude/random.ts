// Math for the isolate: the frozen built-in's functions, with a Math.random of each run's own. The
// built-in random's state would be shared by every run of the isolate (a hook could learn it and
// predict the next run's numbers); here each run seeds its own generator (xoshiro128**) with 16
// bytes from the host the first time it asks.
export interface RunRandom {
  state: Uint32Array | null;
}

export function makeMath(runRandom: () => RunRandom, seed: () => Uint8Array) {
  const descriptors = Object.getOwnPropertyDescriptors(Math) as Record<string | symbol, PropertyDescriptor>;
  descriptors.random = {
    value: function random() {
      const run = runRandom();
      let s = run.state;
      if (s === null) {
        const bytes = seed();
        s = new Uint32Array(4);
        for (let i = 0; i < 16; i++) s[i >> 2] = (s[i >> 2]! << 8) | bytes[i]!;
        if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
        run.state = s;
      }
      let s0 = s[0]!;
      let s1 = s[1]!;
      let s2 = s[2]!;
      let s3 = s[3]!;
      const m = Math.imul(s1, 5);
      const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      s[0] = s0;
      s[1] = s1;
      s[2] = s2;
      s[3] = s3;
      return result / 4294967296;
    },
    writable: false,
    configurable: false,
    enumerable: false,
  };
  return { Math: Object.create(Object.getPrototypeOf(Math), descriptors) as Math };
}
