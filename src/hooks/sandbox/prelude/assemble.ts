// Assembles the prelude's modules into the function the realm script (../realm.ts) calls once per
// isolate, after lockdown(). The isolate takes source text and has no module loader, so the modules are
// written to be copied by their source: each exported function's own text
// (Function.prototype.toString) is valid JavaScript under both ways this code runs, Node's type
// stripping of src/*.ts (types become blanks) and tsc's dist/ (types gone, es2024, so no helpers),
// and it uses only its parameters and locals, the captured intrinsics (intrinsics.ts), and other
// exported prelude functions: all of them are declared side by side in the script's scope. Exports
// that are not functions (types aside) are refused here, so nothing a module holds outside its
// functions is silently missing in the isolate. The recorder table comes from the catalog.
import { recorderTable } from '../../catalog/actions.ts';
import { RUNTIME_ABSENT } from '../../catalog/runtime.ts';
import * as abortModule from './abort.ts';
import * as apiRecordersModule from './api-recorders.ts';
import * as base64Module from './base64.ts';
import * as bootModule from './boot.ts';
import * as cloneModule from './clone.ts';
import * as consoleModule from './console.ts';
import * as cryptoModule from './crypto.ts';
import * as encodingModule from './encoding.ts';
import * as fetchModule from './fetch.ts';
import * as randomModule from './random.ts';
import * as subtleModule from './subtle.ts';
import * as timersModule from './timers.ts';
import { captureIntrinsics } from './intrinsics.ts';
import * as urlModule from './url.ts';

const MODULES: Record<string, Record<string, unknown>> = {
  encoding: encodingModule,
  base64: base64Module,
  url: urlModule,
  console: consoleModule,
  crypto: cryptoModule,
  fetch: fetchModule,
  abort: abortModule,
  clone: cloneModule,
  random: randomModule,
  subtle: subtleModule,
  timers: timersModule,
  'api-recorders': apiRecordersModule,
  boot: bootModule,
};

function declarations(): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [module, exports] of Object.entries(MODULES)) {
    for (const [name, value] of Object.entries(exports)) {
      if (seen.has(name)) throw new Error(`prelude module ${module}: ${name} is declared by another module too`);
      seen.add(name);
      if (typeof value !== 'function') throw new Error(`prelude module ${module}: export ${name} is not a function (only functions reach the isolate)`);
      const source = Function.prototype.toString.call(value);
      if (!source.startsWith('function') && !source.startsWith('async function')) throw new Error(`prelude module ${module}: ${name} is not a function declaration`);
      out.push(source);
    }
  }
  return out;
}

/**
 * The prelude as a function expression: called once per isolate with the memory caps' counter
 * (limits.ts), it answers the boot function the host calls with its bridges (sandbox/pool.ts).
 */
export function assemblePrelude(): string {
  const intrinsics = Object.keys(captureIntrinsics()).join(', ');
  return [
    '(function (tripped) {',
    "'use strict';",
    `const RECORDERS = ${JSON.stringify(recorderTable())};`,
    `const ABSENT = ${JSON.stringify(RUNTIME_ABSENT)};`,
    ...declarations(),
    captureIntrinsics.toString(),
    `const { ${intrinsics} } = captureIntrinsics();`,
    'return function boot(hostLog, hostRandom, hostUrl, hostFetch, hostAsync) { return tesseraBoot(hostLog, hostRandom, hostUrl, hostFetch, hostAsync, RECORDERS, tripped, ABSENT); };',
    '})',
  ].join('\n');
}

export const PRELUDE_SOURCE = assemblePrelude();

/** The specifier of the hook module itself, the only import a hook module may (and its suffix does) have. */
export const SELF_SPECIFIER = 'tessera:hook';

/**
 * Appended to every hook module (after the last line, so line numbers are unchanged): once the top
 * level has run to its end, it hands the default export to the prelude's `run`. That lets the host
 * queue the module's evaluation and the call together, without a round trip in between.
 */
export const MODULE_SUFFIX = `\n;import __tessera_hook__ from '${SELF_SPECIFIER}';\n__tesseraRegister__(__tessera_hook__);\n`;
