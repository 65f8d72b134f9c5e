// The console's first page (the JavaScript and CSS index.html loads; the editor comes later) weighs
// under 300 kB compressed (issue 19), measured on the build that `npm run build` makes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstPageWeight } from '../scripts/console-weight.ts';

test('the first page of the console weighs under 300 kB compressed, the editor not included', () => {
  const weight = firstPageWeight();
  assert.ok(weight.files.some((f) => f.file.endsWith('.js')) && weight.files.some((f) => f.file.endsWith('.css')), JSON.stringify(weight.files));
  assert.ok(!weight.files.some((f) => f.file.includes('code-editor')), 'the editor is not on the first page');
  assert.ok(weight.gzip < 300_000, `${weight.gzip} bytes compressed`);
});
