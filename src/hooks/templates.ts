// The hook template library: the .js files of the top-level hooks/ folder. Each starts with a
// header of `// @key value` lines (name, event, mode, secrets, purpose) that GET /templates lists.
// Publishing one needs the secrets its header declares, except those noted "(optional …)".
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOOK_TEMPLATES_DIR } from '../paths.ts';

export interface HookTemplate {
  name: string;
  title: string;
  event: string;
  mode: 'sync' | 'async';
  /** Every secret the header names. */
  secrets: string[];
  /** Those not marked "(optional …)": publishing without them answers 400. */
  required_secrets: string[];
  purpose: string;
  code: string;
}

const NAME = /^[a-z0-9-]+$/;
const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseTemplate(name: string, code: string): HookTemplate {
  const header: Record<string, string> = {};
  let last: string | null = null;
  for (const line of code.split('\n')) {
    if (!line.startsWith('//')) break;
    const tagged = line.match(/^\/\/\s*@(\w+)\s*(.*)$/);
    if (tagged) {
      last = tagged[1]!;
      header[last] = tagged[2]!.trim();
    } else if (last) {
      header[last] = `${header[last]} ${line.replace(/^\/\/\s*/, '').trim()}`.trim();
    }
  }
  // "A, B (optional, comma-separated)": the names, without the notes in parentheses; a note that
  // says "optional" makes its secret optional.
  const declared =
    (header.secrets ?? '').toLowerCase() === 'none'
      ? []
      : (header.secrets ?? '')
          .replace(/\(([^)]*)\)/g, (_note, inner: string) => (/\boptional\b/i.test(inner) ? ' ?optional' : ''))
          .split(',')
          .map((part) => ({ name: part.trim().split(/\s/)[0]!, optional: part.includes('?optional') }))
          .filter((secret) => SECRET_NAME.test(secret.name));
  const secrets = declared.map((secret) => secret.name);
  return {
    name,
    title: header.name ?? name,
    event: header.event ?? '',
    mode: header.mode === 'async' ? 'async' : 'sync',
    secrets,
    required_secrets: declared.filter((secret) => !secret.optional).map((secret) => secret.name),
    purpose: header.purpose ?? '',
    code,
  };
}

export function listTemplates(dir = HOOK_TEMPLATES_DIR): HookTemplate[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.js'))
    .sort()
    .map((file) => parseTemplate(file.slice(0, -3), readFileSync(join(dir, file), 'utf8')));
}

export function findTemplate(name: string, dir = HOOK_TEMPLATES_DIR): HookTemplate | null {
  if (!NAME.test(name)) return null;
  return listTemplates(dir).find((t) => t.name === name) ?? null;
}
