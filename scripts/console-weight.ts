// The console's first page, as a browser downloads it: the JavaScript and CSS that index.html names
// (the editor's chunk loads later, on demand), raw and gzip-compressed (level 9). Prints one line
// per file and the totals; `firstPageWeight` is what test/console-weight.test.ts checks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const DIST = join(import.meta.dirname, '..', 'console', 'dist');

export interface Weight {
  files: Array<{ file: string; raw: number; gzip: number }>;
  raw: number;
  gzip: number;
}

export function firstPageWeight(dist = DIST): Weight {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const names = [...html.matchAll(/(?:src|href)="\/admin\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  const files = names.map((file) => {
    const bytes = readFileSync(join(dist, file));
    return { file, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  return { files, raw: files.reduce((n, f) => n + f.raw, 0), gzip: files.reduce((n, f) => n + f.gzip, 0) };
}

if (import.meta.main) {
  const weight = firstPageWeight();
  const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
  for (const f of weight.files) console.log(`${f.file}: ${kb(f.raw)} raw, ${kb(f.gzip)} gzip`);
  console.log(`first page: ${kb(weight.raw)} raw, ${kb(weight.gzip)} gzip`);
}
