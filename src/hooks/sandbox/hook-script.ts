// A hook is written as an ES module (`export default async function (event, api) { … }`), but runs as
// a classic script: a V8 script compiles once per isolate and then runs in any of its contexts, where
// a module must be compiled, linked and evaluated again in every fresh context (four round trips to
// the isolate instead of one, on every run). The module is rewritten, keeping every line where it
// was so that errors still name the author's line:
//
//   export default <function|class|expression>  →  __tessera_default__ = { default: <…> }.default;
//   export default function name() {}           →  function name() {}  (and, at the end, __tessera_default__ = name;)
//   export const|let|var|function|class …       →  the declaration alone
//   export { a as default, b }                  →  removed (and, at the end, __tessera_default__ = a;)
//
// The result is a strict function expression, the hook's factory: each call runs the top level in a
// scope of its own (as a module's, but new every time) and returns the default export. The realm
// evaluates it once per version in a compartment (prelude/boot.ts) and calls it once per run, so
// module state never outlives a run. A `//# sourceURL` names it hook.js in stack frames. Imports,
// and a top-level await (a hook's top level must finish at once), are refused.
import { parse, type Node } from 'acorn';

const DEFAULT_BINDING = '__tessera_default__';

export type HookScript = { ok: true; source: string } | { ok: false; message: string; line: number };

interface Edit {
  start: number;
  end: number;
  text: string;
}

// biome-ignore lint/suspicious/noExplicitAny: acorn's nodes are untyped beyond Node; each use checks `type` first
type AnyNode = Node & Record<string, any>;

/** Rewrites a hook module as a script; the module must already parse (checkHookCode). */
export function moduleToScript(code: string): HookScript {
  let program: AnyNode;
  try {
    program = parse(code, { ecmaVersion: 'latest', sourceType: 'module', locations: true }) as AnyNode;
  } catch (error) {
    const e = error as { message?: string; loc?: { line?: number } };
    return { ok: false, message: `SyntaxError: ${String(e.message ?? error).replace(/\s*\(\d+:\d+\)$/, '')}`, line: e.loc?.line ?? 1 };
  }
  const edits: Edit[] = [];
  const tail: string[] = [];
  for (const node of program.body as AnyNode[]) {
    const line = node.loc?.start.line ?? 1;
    if (node.type === 'ImportDeclaration' || node.type === 'ExportAllDeclaration' || (node.type === 'ExportNamedDeclaration' && node.source)) {
      return { ok: false, message: 'imports are not supported in hooks', line };
    }
    if (node.type === 'ExportDefaultDeclaration') {
      const declaration = node.declaration as AnyNode;
      const named = (declaration.type === 'FunctionDeclaration' || declaration.type === 'ClassDeclaration') && declaration.id;
      if (named) {
        edits.push({ start: node.start, end: declaration.start, text: '' });
        tail.push(`${DEFAULT_BINDING} = ${declaration.id.name};`);
      } else {
        // Through a `default` property, so an anonymous function is named "default", as in a module.
        edits.push({ start: node.start, end: declaration.start, text: `${DEFAULT_BINDING} = { default: ` });
        edits.push({ start: declaration.end, end: declaration.end, text: ' }.default;' });
      }
    } else if (node.type === 'ExportNamedDeclaration') {
      if (node.declaration) {
        edits.push({ start: node.start, end: (node.declaration as AnyNode).start, text: '' });
      } else {
        edits.push({ start: node.start, end: node.end, text: '' });
        for (const specifier of node.specifiers as AnyNode[]) {
          const exported = specifier.exported.type === 'Identifier' ? specifier.exported.name : specifier.exported.value;
          if (exported === 'default') tail.push(`${DEFAULT_BINDING} = ${specifier.local.name};`);
        }
      }
    }
  }
  const awaitLine = topLevelAwaitLine(program);
  if (awaitLine !== 0) {
    return { ok: false, message: 'top-level await is not supported in hooks: await inside the exported function instead', line: awaitLine };
  }
  let body = '';
  let at = 0;
  for (const edit of edits.sort((a, b) => a.start - b.start)) {
    body += code.slice(at, edit.start) + edit.text + keepLines(code.slice(edit.start, edit.end));
    at = edit.end;
  }
  body += code.slice(at);
  const source = `(function () { 'use strict'; let ${DEFAULT_BINDING}; ${body}\n;${tail.join(' ')} return ${DEFAULT_BINDING}; })\n//# sourceURL=hook.js\n`;
  return { ok: true, source };
}

/** The line breaks of removed text, so that what follows stays on its line. */
function keepLines(removed: string): string {
  return removed.replace(/[^\n]/g, '');
}

// ---- top-level await: an await (or for await) outside any function

/** The line of the first await outside any function, or 0. */
function topLevelAwaitLine(program: AnyNode): number {
  let found = 0;
  const visit = (node: unknown): void => {
    if (found || !node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    const n = node as AnyNode;
    if (typeof n.type !== 'string') return;
    if (n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression') return;
    if (n.type === 'AwaitExpression' || (n.type === 'ForOfStatement' && n.await)) {
      found = n.loc?.start.line ?? 1;
      return;
    }
    // Class bodies: methods are functions; static blocks and field initialisers cannot await.
    if (n.type === 'ClassBody') return;
    for (const key of Object.keys(n)) {
      if (key === 'loc' || key === 'start' || key === 'end' || key === 'type') continue;
      visit(n[key]);
    }
  };
  visit(program.body);
  return found;
}
