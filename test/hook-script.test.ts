// Hooks are written as modules and run as scripts (src/hooks/sandbox/hook-script.ts): every export form an
// author may use gives the same default export, lines stay where the author wrote them, and what a
// script cannot be (imports, a top-level await) is refused when the code is checked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { moduleToScript } from '../src/hooks/sandbox/hook-script.ts';
import { checkHookCode } from '../src/hooks/sandbox/check.ts';
import { HookSandbox } from '../src/hooks/sandbox/sandbox.ts';

let sandbox: HookSandbox;
let version = 0;
before(() => {
  sandbox = new HookSandbox({ warmIsolates: 1 });
});
after(() => sandbox.dispose());

async function actionsOf(code: string) {
  const result = await sandbox.run({ id: 'script-forms', version: ++version, code }, {});
  assert.equal(result.outcome, 'success', `${code}\n→ ${result.error}`);
  return result.actions;
}

describe('hook modules run as scripts', () => {
  test('every form of default export is the hook, and other exports are plain declarations', async () => {
    const skip = [{ type: 'mfa.skip' }];
    assert.deepEqual(await actionsOf('export default async function (event, api) { api.mfa.skip(); }'), skip);
    assert.deepEqual(await actionsOf('export default async function handler(event, api) { api.mfa.skip(); }\nhandler.extra = 1;'), skip);
    assert.deepEqual(await actionsOf('export default (event, api) => api.mfa.skip()'), skip);
    assert.deepEqual(await actionsOf('const run = async (event, api) => { api.mfa.skip(); };\nexport { run as default };'), skip);
    assert.deepEqual(await actionsOf('export const DOMAIN = "x";\nexport function helper(api) { api.mfa.skip(); }\nexport default async (event, api) => helper(api);'), skip);
    // An anonymous default export is named "default", as in a module (stack traces show it).
    const thrown = await sandbox.run({ id: 'script-name', version: 1, code: 'export default async function () {\n  console.log(new Error("where").stack);\n}' }, {});
    assert.match(thrown.logs.join('\n'), /at default \(hook\.js:2:\d+\)/);
  });

  test('the author’s lines are kept: errors name them', async () => {
    const result = await sandbox.run({ id: 'script-lines', version: 1, code: 'const a = 1;\n\nexport default async function (event, api) {\n  api.mfa.skip();\n  null.boom;\n}' }, {});
    assert.equal(result.outcome, 'error');
    assert.match(String(result.error), /^TypeError: .* \(line 5\)$/);
    const script = moduleToScript('export const a = 1;\nexport default async function () {}\n');
    assert.equal(script.ok, true);
    assert.equal(script.ok && script.source.split('\n')[1], '__tessera_default__ = { default: async function () {} }.default;');
  });

  test('a top-level await and imports are refused with their line; the hook sees no module scope of another run', async () => {
    assert.deepEqual(checkHookCode('const a = 1;\nconst cfg = await Promise.resolve(1);\nexport default async function () {}'), {
      ok: false,
      message: 'top-level await is not supported in hooks: await inside the exported function instead',
      line: 2,
    });
    assert.equal(checkHookCode('export default async function () { for await (const x of []) {} }').ok, true);
    assert.deepEqual(moduleToScript('\nexport { x } from "./other.js";'), { ok: false, message: 'imports are not supported in hooks', line: 2 });
    const counter = 'let runs = 0;\nexport default async function (event, api) { runs += 1; api.user.setMetadata("runs", runs); }';
    for (let i = 0; i < 3; i++)
      assert.deepEqual(await sandbox.run({ id: 'script-fresh', version: 1, code: counter }, {}).then((r) => r.actions), [{ type: 'user.setMetadata', key: 'runs', value: 1 }]);
  });
});
