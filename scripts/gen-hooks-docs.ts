// Writes hooks/types.d.ts and docs/hooks.md from the hook event catalog, and the event table of
// docs/webhooks.md from the webhook catalog.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDocs, renderTypes } from '../src/hooks/catalog/docs.ts';
import { PROJECT_ROOT } from '../src/paths.ts';
import { withWebhookTypes } from '../src/webhooks/catalog.ts';

writeFileSync(join(PROJECT_ROOT, 'hooks', 'types.d.ts'), renderTypes());
writeFileSync(join(PROJECT_ROOT, 'docs', 'hooks.md'), renderDocs());
const webhooksDoc = join(PROJECT_ROOT, 'docs', 'webhooks.md');
writeFileSync(webhooksDoc, withWebhookTypes(readFileSync(webhooksDoc, 'utf8')));
console.log('wrote hooks/types.d.ts, docs/hooks.md and the event table of docs/webhooks.md');
