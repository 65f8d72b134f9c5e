// Writes hooks/types.d.ts and docs/hooks.md from the event catalog.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDocs, renderTypes } from '../src/hooks/catalog/docs.ts';
import { PROJECT_ROOT } from '../src/paths.ts';

writeFileSync(join(PROJECT_ROOT, 'hooks', 'types.d.ts'), renderTypes());
writeFileSync(join(PROJECT_ROOT, 'docs', 'hooks.md'), renderDocs());
console.log('wrote hooks/types.d.ts and docs/hooks.md');
