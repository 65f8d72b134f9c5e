// The SQL adapter behind every oidc-provider model (sessions, grants, codes, tokens, interactions…).
// Clients are not stored here: they are the applications, read through the applications service.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Knex } from 'knex';
import { fromJson, isPostgres, toJson, type Db } from '../db/knex.ts';
import type { GrantedApplication } from '../identity/application-access.ts';
import { preparedStatements, USE_KNEX, type Row } from '../db/prepared.ts';
import { recordEvent } from '../webhooks/outbox.ts';

export interface ClientSource {
  clientMetadata(clientId: string): Promise<AdapterPayload | undefined>;
}

const TABLE = 'oidc_models';

// The statements of every token request, prepared once on SQLite (src/db/prepared.ts); the same as
// knex's `insert().onConflict().merge()`, `where().first()` and `update()` below.
const UPSERT_SQL =
  'INSERT INTO oidc_models (model, id, payload, grant_id, account_id, user_code, uid, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, account_id = excluded.account_id, ' +
  'user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at';
const FIND_SQL = 'SELECT payload, expires_at, consumed_at FROM oidc_models WHERE model = ? AND id = ? LIMIT 1';
const CONSUME_SQL = 'UPDATE oidc_models SET consumed_at = ? WHERE model = ? AND id = ?';

/**
 * Ids come from requests (tokens in form bodies, cookies, query strings). No stored id holds a NUL
 * character, and PostgreSQL refuses one in a text parameter with an error, so such an id is simply
 * not found instead of turning into a 500.
 */
function storable(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\u0000');
}

/**
 * Signs an account out everywhere: its sessions, grants, codes and tokens (refresh tokens and opaque
 * access tokens) are deleted. JWT access tokens, verified without asking us, run out on their own.
 * The refresh tokens that were still usable are announced (jwt.refresh-token.revoke, one event per
 * application, with `reason`); `db` should be the change's transaction.
 */
export async function revokeAccount(db: Knex | Knex.Transaction, accountId: string, reason = 'sign_out'): Promise<number> {
  const live = await liveRefreshTokens(db(TABLE).where({ model: 'RefreshToken', account_id: accountId }));
  const deleted = await db(TABLE).where({ account_id: accountId }).delete();
  await announceRevoked(db, accountId, live, reason);
  return deleted;
}

/** The client ids of the refresh tokens a query finds that could still be used (not expired, not consumed). */
async function liveRefreshTokens(query: Knex.QueryBuilder): Promise<string[]> {
  const now = Date.now();
  const rows: Array<{ payload: unknown }> = await query
    .whereNull('consumed_at')
    .andWhere((w) => w.whereNull('expires_at').orWhere('expires_at', '>', now))
    .select('payload');
  return rows.map((row) => fromJson<AdapterPayload>(row.payload, {}).clientId).filter((id: unknown): id is string => typeof id === 'string');
}

/** jwt.refresh-token.revoke, one event per application whose refresh tokens went. */
export async function announceRevoked(db: Knex | Knex.Transaction, accountId: string, clientIds: string[], reason: string): Promise<void> {
  const counts = new Map<string, number>();
  for (const id of clientIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [clientId, count] of counts) await recordEvent(db, 'jwt.refresh-token.revoke', { user_id: accountId, application_id: clientId, count, reason });
}

export function createAdapterFactory(db: Db, clients: ClientSource) {
  const prepared = preparedStatements(db);
  return class SqlAdapter implements Adapter {
    readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const row = {
        model: this.model,
        id,
        payload: toJson(payload),
        grant_id: payload.grantId ?? null,
        account_id: typeof payload.accountId === 'string' ? payload.accountId : null,
        user_code: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expires_at: expiresIn ? Date.now() + expiresIn * 1000 : null,
      };
      if (prepared?.run(UPSERT_SQL, row.model, row.id, row.payload, row.grant_id, row.account_id, row.user_code, row.uid, row.expires_at)) return;
      await db(TABLE).insert(row).onConflict(['model', 'id']).merge();
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (!storable(id)) return undefined;
      if (this.model === 'Client') return clients.clientMetadata(id);
      const row = prepared ? prepared.get(FIND_SQL, this.model, id) : USE_KNEX;
      if (row !== USE_KNEX) return live(row);
      return this.#findBy({ id });
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      if (!storable(uid)) return undefined;
      return this.#findBy({ uid });
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      if (!storable(userCode)) return undefined;
      return this.#findBy({ user_code: userCode });
    }

    async consume(id: string): Promise<void> {
      if (!storable(id)) return;
      const now = Date.now();
      if (prepared?.run(CONSUME_SQL, now, this.model, id)) return;
      await db(TABLE).where({ model: this.model, id }).update({ consumed_at: now });
    }

    async destroy(id: string): Promise<void> {
      if (!storable(id)) return;
      await db(TABLE).where({ model: this.model, id }).delete();
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      if (!storable(grantId)) return;
      await db(TABLE).where({ grant_id: grantId }).delete();
    }

    async #findBy(where: Record<string, string>): Promise<AdapterPayload | undefined> {
      return live(
        await db(TABLE)
          .where({ model: this.model, ...where })
          .first(),
      );
    }
  };
}

/** A stored artifact's payload, unless it has expired (the clean-up deletes it later). */
function live(row: Row | undefined): AdapterPayload | undefined {
  if (!row) return undefined;
  if (row.expires_at !== null && Number(row.expires_at) <= Date.now()) return undefined;
  const payload = fromJson<AdapterPayload>(row.payload, {});
  if (row.consumed_at !== null) payload.consumed = Math.floor(Number(row.consumed_at) / 1000);
  return payload;
}

/**
 * The application an interaction (sign-in) was for, also once it has expired, until the clean-up
 * deletes it: the page saying it has gone keeps that application's branding and way back.
 */
export async function interactionClientId(db: Db, uid: string): Promise<string | null> {
  if (!storable(uid) || uid.length > 200) return null;
  const row = await db(TABLE).where({ model: 'Interaction', id: uid }).first();
  if (!row) return null;
  const clientId = fromJson<{ params?: { client_id?: unknown } }>(row.payload, {}).params?.client_id;
  return typeof clientId === 'string' ? clientId : null;
}

/** Rows the sweep deletes per statement. */
export const SWEEP_BATCH = 250;

// One batch of the sweep: at most `limit` expired rows, found through the expires_at index, so a
// statement's cost depends on the batch, not on how many rows the table holds. On SQLite a statement
// runs on the main thread (node:sqlite), and one DELETE of a whole backlog would stall every request
// for as long; on PostgreSQL, rows another instance's sweep holds are skipped, not waited for.
const SWEEP_SQLITE = 'DELETE FROM oidc_models WHERE rowid IN (SELECT rowid FROM oidc_models WHERE expires_at <= ? LIMIT ?)';
const SWEEP_POSTGRES = 'DELETE FROM oidc_models WHERE (model, id) IN (SELECT model, id FROM oidc_models WHERE expires_at <= ? LIMIT ? FOR UPDATE SKIP LOCKED)';

/**
 * Deletes expired artifacts (run periodically) in batches of `batch` rows, letting requests run
 * between them. Returns how many rows went.
 */
export async function deleteExpiredModels(db: Db, now = Date.now(), batch = SWEEP_BATCH): Promise<number> {
  const sql = isPostgres(db) ? SWEEP_POSTGRES : SWEEP_SQLITE;
  let deleted = 0;
  for (;;) {
    const result: unknown = await db.raw(sql, [now, batch]);
    const count = isPostgres(db) ? Number((result as { rowCount?: number }).rowCount ?? 0) : Number((result as { changes?: number }).changes ?? 0);
    deleted += count;
    if (count < batch) return deleted;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function accountGrants(db: Knex | Knex.Transaction, accountId: string): Promise<Array<{ id: string; payload: AdapterPayload }>> {
  const rows = await db(TABLE).where({ model: 'Grant', account_id: accountId }).select('id', 'payload');
  return rows.map((row) => ({ id: String(row.id), payload: fromJson<AdapterPayload>(row.payload, {}) }));
}

/** The applications an account has granted access to (one entry per application). */
export async function grantedApplications(db: Knex | Knex.Transaction, accountId: string): Promise<GrantedApplication[]> {
  const byClient = new Map<string, GrantedApplication>();
  for (const { payload } of await accountGrants(db, accountId)) {
    if (typeof payload.clientId !== 'string' || byClient.has(payload.clientId)) continue;
    const scope = (payload.openid as { scope?: unknown } | undefined)?.scope;
    byClient.set(payload.clientId, {
      client_id: payload.clientId,
      scope: typeof scope === 'string' ? scope : null,
      granted_at: typeof payload.iat === 'number' ? new Date(payload.iat * 1000).toISOString() : null,
    });
  }
  return [...byClient.values()];
}

/**
 * Revokes one application's access to an account: its grants, and every code and token issued under
 * them (refresh tokens, opaque access tokens). The account's sessions stay, so its other applications
 * keep working; this one asks again (consent, for a third party) at its next sign-in. Answers how many
 * grants went.
 */
export async function revokeApplication(db: Knex | Knex.Transaction, accountId: string, clientId: string): Promise<number> {
  const ids = (await accountGrants(db, accountId)).filter((grant) => grant.payload.clientId === clientId).map((grant) => grant.id);
  if (ids.length === 0) return 0;
  const live = await liveRefreshTokens(db(TABLE).where({ model: 'RefreshToken' }).whereIn('grant_id', ids));
  await db(TABLE).whereIn('grant_id', ids).delete();
  await announceRevoked(db, accountId, live, 'access_revoked');
  await db(TABLE).where({ model: 'Grant' }).whereIn('id', ids).delete();
  return ids.length;
}

/** A provider session of an account: one signed-in browser ("device"). */
export interface AccountSession {
  /** The session's id (the provider's session cookie holds it). */
  id: string;
  login_at: string | null;
  /** The applications signed in through it. */
  client_ids: string[];
  expires_at: string | null;
}

/** The account's live provider sessions, newest sign-in first. */
export async function accountSessions(db: Knex | Knex.Transaction, accountId: string): Promise<AccountSession[]> {
  const rows = await db(TABLE).where({ model: 'Session', account_id: accountId }).select('id', 'payload', 'expires_at');
  const now = Date.now();
  return rows
    .filter((row) => row.expires_at === null || Number(row.expires_at) > now)
    .map((row) => {
      const payload = fromJson<{ loginTs?: unknown; authorizations?: Record<string, unknown> }>(row.payload, {});
      return {
        id: String(row.id),
        login_at: typeof payload.loginTs === 'number' ? new Date(payload.loginTs * 1000).toISOString() : null,
        client_ids: Object.keys(payload.authorizations ?? {}),
        expires_at: row.expires_at === null ? null : new Date(Number(row.expires_at)).toISOString(),
      };
    })
    .sort((a, b) => (b.login_at ?? '').localeCompare(a.login_at ?? ''));
}

/**
 * Ends provider sessions of an account (a browser signed out from the account page): `only` one of
 * them, or all `except` one (null: every one). Tokens that outlive a session (offline_access) stay;
 * revoking an application's access ends those. Answers how many sessions went.
 */
export async function endAccountSessions(db: Knex | Knex.Transaction, accountId: string, which: { only: string } | { except: string | null }): Promise<number> {
  const query = db(TABLE).where({ model: 'Session', account_id: accountId });
  if ('only' in which) query.where({ id: which.only });
  else if (which.except) query.whereNot({ id: which.except });
  return Number(await query.delete());
}
