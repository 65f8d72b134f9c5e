// `npm start`'s prestart: compiles src/ and migrations/ into dist/ only when dist/ is stale, so
// starting an unchanged checkout does not wait for a full type-check and emit.
// `tsc --build` skips an up-to-date project by its .tsbuildinfo (tsconfig.build.json), but does not
// notice a deleted output file; so each source's .js is checked here first, and a missing one
// throws the build info away, which makes the build a full one.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const BUILD_INFO = join(root, 'dist', 'tsconfig.build.tsbuildinfo');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const missing = ['src', 'migrations'].flatMap((dir) => sources(join(root, dir))).filter((file) => !existsSync(join(root, 'dist', relative(root, file).replace(/\.ts$/, '.js'))));
if (missing.length > 0) rmSync(BUILD_INFO, { force: true });
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
