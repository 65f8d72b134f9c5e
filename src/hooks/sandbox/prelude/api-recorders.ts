// The `api` object a hook receives, generated from the catalog's action definitions
// (src/hooks/catalog/actions.ts, recorderTable()): for each action type "group.name" with
// parameters [p0, p1], api.group.name(a0, a1) records {type, p0: a0, p1: a1}. The values are copied
// as JSON at the call, so what the hook changes afterwards is not what it recorded. The host validates
// the recorded actions against the event (catalog/actions.ts actionProblem).
import { freeze, keys, parse, stringify, TypeErrorCtor } from './intrinsics.ts';

export interface Recorded {
  type: string;
  [field: string]: unknown;
}

/** The recorder table: [action type, its parameter names in call order]. */
export type RecorderTable = ReadonlyArray<readonly [string, readonly string[]]>;

/** A JSON copy of a recorded value (undefined stays undefined: the field is left out). */
export function jsonCopy(value: unknown, what: string): unknown {
  const MAX_ACTION_TEXT = 65536;
  if (value === undefined) return undefined;
  let text;
  try {
    text = stringify(value);
  } catch {
    throw new TypeErrorCtor(what + ' must be JSON-serializable');
  }
  if (text === undefined) return undefined;
  if (text.length > MAX_ACTION_TEXT) throw new TypeErrorCtor(what + ' is too large');
  return parse(text);
}

/**
 * The frozen api object whose calls append to `actions` (at most 200 per run); `actions` may be a
 * function answering the current run's list (boot.ts builds one api per realm).
 */
export function makeApi(sink: Recorded[] | (() => Recorded[]), table: RecorderTable): object {
  const MAX_ACTIONS = 200;
  const record = (type: string, params: readonly string[], args: unknown[]) => {
    const actions = typeof sink === 'function' ? sink() : sink;
    if (actions.length >= MAX_ACTIONS) throw new TypeErrorCtor('too many api calls (at most ' + MAX_ACTIONS + ' per run)');
    const action: Recorded = { type };
    for (let i = 0; i < params.length; i++) {
      const v = jsonCopy(args[i], 'api.' + type + ' ' + params[i]);
      if (v !== undefined) action[params[i]!] = v;
    }
    actions[actions.length] = action;
  };
  const api: Record<string, Record<string, unknown>> = {};
  for (const [type, params] of table) {
    const dot = type.indexOf('.');
    const name = dot === -1 ? type : type.slice(dot + 1);
    const group: Record<string, unknown> = dot === -1 ? api : (api[type.slice(0, dot)] ??= {});
    // A named method (api.deny.name === 'deny'), as if written out by hand.
    group[name] = {
      [name](...args: unknown[]) {
        record(type, params, args);
      },
    }[name];
  }
  for (const k of keys(api)) if (typeof api[k] === 'object') freeze(api[k]);
  return freeze(api);
}
