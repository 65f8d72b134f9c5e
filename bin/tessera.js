#!/usr/bin/env node
// Starts the Tessera command line on the project's pinned Node 24 (isolated-vm needs it, and
// --no-node-snapshot), whatever `node` the shell has.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
const node = existsSync(pinned) ? pinned : process.execPath;
// From a checkout, run the sources (type stripping); installed under node_modules, the compiled build.
const entry = root.includes('/node_modules/') ? join(root, 'dist', 'src', 'cli.js') : join(root, 'src', 'cli.ts');
const result = spawnSync(node, ['--no-node-snapshot', entry, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
