// The script every hook isolate runs once, in its one context: the `ses` package (Hardened
// JavaScript), the memory caps on string built-ins (prelude/limits.ts), lockdown() (every intrinsic
// frozen from then on: Object.prototype, Array.prototype, JSON, Math, RegExp without its legacy
// statics, Error without prepareStackTrace's reach into other compartments, Function without a
// constructor that escapes), and the prelude (prelude/assemble.ts). Its value is the prelude's boot
// function (sandbox/pool.ts calls it with the bridges). One compiled script and one V8 code cache
// serve every isolate.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { capIntrinsics } from './prelude/limits.ts';
import { PRELUDE_SOURCE } from './prelude/assemble.ts';

/** The longest string a capped built-in makes (two-byte: 16 MiB, half the default memory limit). */
export const MAX_STRING_CHARS = 8 * 1024 * 1024;

/**
 * The lockdown options: errors keep their V8 `stack` (hooks' errors name their line; the stack
 * of a compartment's Error cannot be rewritten by Error.prepareStackTrace), no console taming (the
 * prelude brings its own console), `moderate` override taming (assigning `obj.toString = …` on an
 * object of one's own works although Object.prototype is frozen), and locale methods kept.
 */
const LOCKDOWN_OPTIONS = {
  errorTaming: 'unsafe',
  stackFiltering: 'verbose',
  overrideTaming: 'moderate',
  consoleTaming: 'unsafe',
  localeTaming: 'unsafe',
  reporting: 'none',
};

function sesSource(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(join(dirname(require.resolve('ses')), 'ses.umd.min.js'), 'utf8');
}

export function assembleRealm(): string {
  return [
    sesSource(),
    ';(function () {',
    "'use strict';",
    capIntrinsics.toString(),
    `const tripped = capIntrinsics(${MAX_STRING_CHARS});`,
    `lockdown(${JSON.stringify(LOCKDOWN_OPTIONS)});`,
    `return (${PRELUDE_SOURCE})(tripped);`,
    '})();',
    '',
  ].join('\n');
}

export const REALM_SOURCE = assembleRealm();
