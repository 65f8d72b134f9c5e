// Which resource servers (APIs) an application may get tokens for, and with which of their scopes.
// An application that lists none gets none: a token for an API is never issued by default.
//
// The admin API takes `resource_servers` as a list whose entries are either an identifier alone
// ("https://api.example.com": every scope that API defines when the application is saved) or
// {identifier, scopes_allowed: [...]} (those scopes only; [] gives tokens for the API without any
// of its scopes). It always answers the second form. A scope an API gains later is not granted to
// the applications already allowed that API until they list it: a new "payments:admin" must be
// handed out, not inherited.
import { fromJson, toJson, type Db } from '../db/knex.ts';
import { ValidationError } from '../errors.ts';
import type { Knex } from 'knex';

export interface ResourceServerGrant {
  identifier: string;
  scopes_allowed: string[];
}

const TABLE = 'application_resource_servers';
const MAX_GRANTS = 100;

/** Checks `resource_servers` of an application body against the registered resource servers. */
export async function parseGrants(db: Db, value: unknown): Promise<ResourceServerGrant[]> {
  const field = 'resource_servers';
  if (!Array.isArray(value)) throw new ValidationError(field, 'must be an array of resource server identifiers or {identifier, scopes_allowed}');
  if (value.length > MAX_GRANTS) throw new ValidationError(field, `must hold at most ${MAX_GRANTS} resource servers`);
  const entries = value.map((item, i) => {
    const at = `${field}[${i}]`;
    if (typeof item === 'string') return { identifier: item, scopes: undefined as unknown, at, idField: at };
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new ValidationError(at, 'must be a resource server identifier or {identifier, scopes_allowed}');
    }
    const unknown = Object.keys(item).find((key) => key !== 'identifier' && key !== 'scopes_allowed');
    if (unknown) throw new ValidationError(`${at}.${unknown}`, 'is not a known field (known: identifier, scopes_allowed)');
    const entry = item as Record<string, unknown>;
    if (typeof entry.identifier !== 'string') throw new ValidationError(`${at}.identifier`, 'is required (a registered resource server identifier)');
    return { identifier: entry.identifier, scopes: entry.scopes_allowed, at, idField: `${at}.identifier` };
  });
  const ids = entries.map((entry) => entry.identifier);
  const rows = ids.length && !ids.some((id) => id.includes('\u0000')) ? await db('resource_servers').whereIn('identifier', ids).select('identifier', 'scopes') : [];
  const defined = new Map<string, string[]>(rows.map((row: Record<string, unknown>) => [String(row.identifier), fromJson<string[]>(row.scopes, [])]));
  const seen = new Set<string>();
  return entries.map(({ identifier, scopes, at, idField }) => {
    const serverScopes = defined.get(identifier);
    if (!serverScopes) throw new ValidationError(idField, `${JSON.stringify(identifier.slice(0, 500))} is not a registered resource server (POST /resource-servers first)`);
    if (seen.has(identifier)) throw new ValidationError(idField, `${identifier} is listed twice`);
    seen.add(identifier);
    if (scopes === undefined) return { identifier, scopes_allowed: [...serverScopes] };
    if (!Array.isArray(scopes)) throw new ValidationError(`${at}.scopes_allowed`, 'must be an array of scopes of that resource server');
    const allowed = scopes.map((scope, j) => {
      if (typeof scope !== 'string' || !serverScopes.includes(scope)) {
        throw new ValidationError(`${at}.scopes_allowed[${j}]`, `${String(JSON.stringify(scope)).slice(0, 100)} is not a scope of ${identifier} (its scopes: ${serverScopes.join(' ') || 'none'})`);
      }
      return scope;
    });
    return { identifier, scopes_allowed: [...new Set(allowed)] };
  });
}

function toGrant(row: Record<string, unknown>): ResourceServerGrant {
  return { identifier: String(row.identifier), scopes_allowed: fromJson<string[]>(row.scopes_allowed, []) };
}

export async function grantsOf(db: Db, clientId: string): Promise<ResourceServerGrant[]> {
  return (await db(TABLE).where({ client_id: clientId }).orderBy('identifier', 'asc')).map(toGrant);
}

/** Every application's grants, for listing applications without one query each. */
export async function grantsByClient(db: Db): Promise<Map<string, ResourceServerGrant[]>> {
  const out = new Map<string, ResourceServerGrant[]>();
  for (const row of await db(TABLE).orderBy('identifier', 'asc')) {
    const clientId = String(row.client_id);
    out.set(clientId, [...(out.get(clientId) ?? []), toGrant(row)]);
  }
  return out;
}

/** Replaces an application's grants (call inside the transaction that saves the application). */
export async function replaceGrants(trx: Knex | Knex.Transaction, clientId: string, grants: ResourceServerGrant[]): Promise<void> {
  await trx(TABLE).where({ client_id: clientId }).delete();
  if (grants.length) {
    await trx(TABLE).insert(grants.map((grant) => ({ client_id: clientId, identifier: grant.identifier, scopes_allowed: toJson(grant.scopes_allowed) })));
  }
}

/** A resource server lost scopes: no application keeps them, so adding one back grants it to nobody. */
export async function pruneGrantScopes(trx: Knex | Knex.Transaction, identifier: string, scopes: string[]): Promise<void> {
  const keep = new Set(scopes);
  for (const row of await trx(TABLE).where({ identifier })) {
    const grant = toGrant(row);
    const allowed = grant.scopes_allowed.filter((scope) => keep.has(scope));
    if (allowed.length !== grant.scopes_allowed.length) {
      await trx(TABLE)
        .where({ client_id: row.client_id, identifier })
        .update({ scopes_allowed: toJson(allowed) });
    }
  }
}

/** The same answer for an unknown server and a server not allowed: a client does not learn which APIs exist. */
export function targetNotAllowed(identifier: string): string {
  return `unknown resource server, or one this application is not allowed: ${identifier.slice(0, 500)}`;
}

export type GrantDecision = { allowed: string[] } | { error: 'invalid_target'; description: string } | { error: 'invalid_scope'; description: string; scope: string };

/**
 * What a token for `server` may carry for an application with these grants: the server's scopes
 * the application is allowed, or a refusal. Asking by name for a scope of the server that the
 * application is not allowed is refused (invalid_scope) rather than silently dropped, so that a
 * misconfigured client learns why; scopes of nobody's defining are left to the provider, as before.
 */
export function decideGrant(server: { identifier: string; scopes: string[] }, grants: ResourceServerGrant[], requested: string[]): GrantDecision {
  const grant = grants.find((g) => g.identifier === server.identifier);
  if (!grant) return { error: 'invalid_target', description: targetNotAllowed(server.identifier) };
  const mine = new Set(grant.scopes_allowed);
  const allowed = server.scopes.filter((scope) => mine.has(scope));
  const refused = requested.filter((scope) => server.scopes.includes(scope) && !mine.has(scope));
  if (refused.length) return { error: 'invalid_scope', description: `this application is not allowed ${refused.join(' ')} of ${server.identifier}`, scope: refused.join(' ') };
  return { allowed };
}
