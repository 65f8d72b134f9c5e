// Checking a hook's code without running any of it: it parses as a module, imports nothing, has a
// default export, its rewrite as a script (hook-script.ts) compiles, and Hardened JavaScript takes
// it (a compartment refuses a dynamic import, a direct eval and HTML-like comments, even inside
// strings). On failure, the message and the 1-based line to show the author. The hook store and
// KICKSTART call codeProblem.
import type ivm from 'isolated-vm';
import { moduleToScript } from './hook-script.ts';
import { createIsolate } from './isolates.ts';
import { MODULE_SUFFIX, SELF_SPECIFIER } from './prelude/assemble.ts';
import { REALM_SOURCE } from './realm.ts';
import { MEMORY_LIMIT_MB } from './memory.ts';

export type CodeCheck = { ok: true } | { ok: false; message: string; line: number };

const MAX_CODE_BYTES = 256 * 1024;
/** The file name hooks compile under: their errors and stack frames say "hook.js:<line>". */
export const FILENAME = 'hook.js';
const DEFAULT_EXPORT_MESSAGE = 'the hook must export a default function: export default async function (event, api) { … }';

let checker: ivm.Isolate | null = null;
let realm: ivm.Context | null = null;

function checkerIsolate(): ivm.Isolate {
  if (checker === null || checker.isDisposed) {
    checker = createIsolate({ memoryLimit: MEMORY_LIMIT_MB });
    realm = null;
  }
  return checker;
}

/** A context of the checker isolate with the realm script run (SES locked down), made on first use. */
function checkerRealm(): ivm.Context {
  const isolate = checkerIsolate();
  if (realm === null) {
    const context = isolate.createContextSync();
    isolate.compileScriptSync(REALM_SOURCE, { filename: 'tessera:realm' }).runSync(context, { timeout: 10_000 });
    realm = context;
  }
  return realm;
}

/** Why a compartment refuses the hook's script (SES's source checks), with the line; null if it takes it. */
function hardenedProblem(source: string): { message: string; line: number } | null {
  const refused = checkerRealm().evalClosureSync(`try { new Compartment({ __options__: true }).evaluate($0); return null; } catch (e) { return String(e && e.message); }`, [source], {
    timeout: 1000,
  }) as string | null;
  if (refused === null) return null;
  const line = Number(/at hook\.js:(\d+)/.exec(refused)?.[1] ?? 1);
  if (/SES_IMPORT_REJECTED/.test(refused)) return { message: 'SyntaxError: dynamic import is not supported in hooks', line };
  if (/SES_EVAL_REJECTED/.test(refused)) return { message: 'SyntaxError: direct eval is not supported in hooks (an indirect (0, eval)(code) is)', line };
  if (/SES_HTML_COMMENT_REJECTED/.test(refused)) return { message: "SyntaxError: '<!--' and '-->' are not allowed in hooks, even inside strings (write '<!' + '--')", line };
  return { message: `SyntaxError: ${refused}`, line };
}

/** Checks that code is a hook module (Hardened JavaScript's source checks included). Runs none of it. */
export function checkHookCode(code: string): CodeCheck {
  return checkAndRewrite(code, true).check;
}

/** The same check in the shape the hook store takes: the problem, or null. */
export function codeProblem(code: string): { message: string; line: number | null } | null {
  const check = checkHookCode(code);
  return check.ok ? null : { message: check.message, line: check.line };
}

/** The check, and (when it passes) the hook rewritten as the script it runs as: one parse for both. */
/**
 * `hardened`: also run Hardened JavaScript's source checks (in a realm of the checker isolate, made
 * on first use: about 100 ms of this thread once). Saving a hook does; a run need not, since its
 * compartment refuses the same code itself, with the line.
 */
export function checkAndRewrite(code: string, hardened = false): { check: CodeCheck; source: string } {
  const check = checkModule(code);
  if (!check.ok) return { check, source: '' };
  const lines = code.split('\n').length;
  // Hooks run as scripts (hook-script.ts): the rewritten source must compile too.
  const script = moduleToScript(code);
  if (!script.ok) return { check: { ok: false, message: script.message, line: Math.min(Math.max(script.line, 1), lines) }, source: '' };
  try {
    checkerIsolate().compileScriptSync(script.source, { filename: FILENAME }).release();
  } catch (error) {
    const { message, line } = splitLocation(error);
    return { check: { ok: false, message, line: Math.min(Math.max(line ?? 1, 1), lines) }, source: '' };
  }
  const refused = hardened ? hardenedProblem(script.source) : null;
  if (refused !== null) return { check: { ok: false, message: refused.message, line: Math.min(Math.max(refused.line, 1), lines) }, source: '' };
  return { check, source: script.source };
}

function checkModule(code: string): CodeCheck {
  if (typeof code !== 'string') return { ok: false, message: 'code must be a string', line: 1 };
  if (Buffer.byteLength(code, 'utf8') > MAX_CODE_BYTES) {
    return { ok: false, message: `the code is larger than ${MAX_CODE_BYTES / 1024} KiB`, line: 1 };
  }
  const lines = code.split('\n').length;
  const isolate = checkerIsolate();
  let module: ivm.Module;
  try {
    module = isolate.compileModuleSync(code + MODULE_SUFFIX, { filename: FILENAME });
  } catch (error) {
    const { message, line } = splitLocation(error);
    return { ok: false, message, line: Math.min(Math.max(line ?? 1, 1), lines) };
  }
  try {
    const imported = module.dependencySpecifiers.filter((specifier) => specifier !== SELF_SPECIFIER);
    if (imported.length > 0) {
      return { ok: false, message: `imports are not supported in hooks (${JSON.stringify(imported[0])})`, line: importLine(code, imported[0]!) };
    }
    // Instantiating links the suffix's import of the module's own default export, and fails if
    // there is none. No code runs.
    const context = isolate.createContextSync();
    try {
      module.instantiateSync(context, selfResolver(module));
    } catch {
      return { ok: false, message: DEFAULT_EXPORT_MESSAGE, line: 1 };
    } finally {
      context.release();
    }
    return { ok: true };
  } finally {
    module.release();
  }
}

function selfResolver(module: ivm.Module) {
  return (specifier: string): ivm.Module => {
    if (specifier === SELF_SPECIFIER) return module;
    throw new Error('imports are not supported in hooks');
  };
}

function importLine(code: string, specifier: string): number {
  const lines = code.split('\n');
  const quoted = [`'${specifier}'`, `"${specifier}"`];
  const index = lines.findIndex((line) => /\bimport\b|\bfrom\b/.test(line) && quoted.some((q) => line.includes(q)));
  return index === -1 ? 1 : index + 1;
}

/**
 * "SyntaxError: Unexpected token ';' [hook.js:2:11]" → the message without the location, and line 2.
 * Runtime errors carry their line in the stack ("at hook.js:2:7") instead.
 */
export function splitLocation(error: unknown): { message: string; line: number | null } {
  const e = error as { name?: unknown; message?: unknown; stack?: unknown } | null;
  const name = e && typeof e.name === 'string' ? e.name : 'Error';
  let message = e && typeof e.message === 'string' ? e.message : String(error);
  let line: number | null = null;
  const located = /\s*\[hook\.js:(\d+):(\d+)\]\s*$/.exec(message);
  if (located) {
    line = Number(located[1]);
    message = message.slice(0, located.index);
  } else if (e && typeof e.stack === 'string') {
    const frame = /\bhook\.js:(\d+):\d+/.exec(e.stack);
    if (frame) line = Number(frame[1]);
  }
  return { message: `${name}: ${message}`, line };
}
