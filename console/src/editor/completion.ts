// Completion for hook code from the event catalog (GET /admin/api/events): after `event.` the chosen
// event's fields (from its sample, with the catalog's types for the payload's own fields), after
// `api.` the actions this event allows, each with its signature. Pure: no editor needed to test it.
import type { EventSpec } from '../api.ts';

export interface Suggestion {
  label: string;
  type: 'property' | 'function' | 'namespace' | 'variable';
  detail: string;
}

type Tree = Map<string, { node: Tree; signature?: string }>;

function actionTree(spec: EventSpec): Tree {
  const root: Tree = new Map();
  for (const action of spec.actions) {
    const path = action.signature.replace(/\(.*$/s, '').split('.').slice(1); // api.user.setAttribute → [user, setAttribute]
    let level = root;
    path.forEach((part, i) => {
      const entry: { node: Tree; signature?: string } = level.get(part) ?? { node: new Map() };
      if (i === path.length - 1) entry.signature = action.signature;
      level.set(part, entry);
      level = entry.node;
    });
  }
  return root;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** What may follow `expression.` (`event.user`, `api.idToken`…) for this event; [] when nothing is known. */
export function suggestionsFor(spec: EventSpec, expression: string): Suggestion[] {
  const [head, ...path] = expression.split('.');
  if (head === 'event') {
    let value: unknown = spec.sample;
    for (const part of path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
    if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
    return Object.entries(value as Record<string, unknown>).map(([key, item]) => ({
      label: key,
      type: 'property',
      detail: path.length === 0 && spec.fields[key] ? spec.fields[key]! : typeOf(item),
    }));
  }
  if (head === 'api') {
    let level = actionTree(spec);
    for (const part of path) {
      const next = level.get(part);
      if (!next) return [];
      level = next.node;
    }
    return [...level].map(([key, entry]) =>
      entry.signature ? { label: key, type: 'function', detail: entry.signature } : { label: key, type: 'namespace', detail: `api.${[...path, key].join('.')}` },
    );
  }
  return [];
}

export const GLOBALS: Suggestion[] = [
  { label: 'event', type: 'variable', detail: 'the event this hook runs for' },
  { label: 'api', type: 'variable', detail: 'the actions this event allows' },
  { label: 'fetch', type: 'function', detail: 'fetch(url, init?): Promise<Response> (allowed hosts only)' },
  { label: 'console', type: 'variable', detail: 'console.log(...) goes to the execution log' },
];
