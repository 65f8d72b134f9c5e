// Links between a user and an identity at a provider (user_links): found by (provider, subject) at
// each external sign-in, listed and removed by the admin API. Linking and unlinking write their
// webhook event (user.identity-provider.link / unlink) in the same transaction.
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { NotFoundError } from '../errors.ts';
import { recordEvent } from '../webhooks/outbox.ts';

export interface UserLink {
  provider_id: string;
  provider_name: string | null;
  subject: string;
  user_id: string;
  email: string | null;
  created_at: string;
  last_login_at: string | null;
}

type Row = Record<string, unknown>;

function toLink(row: Row): UserLink {
  return {
    provider_id: String(row.provider_id),
    provider_name: (row.provider_name as string | null) ?? null,
    subject: String(row.subject),
    user_id: String(row.user_id),
    email: (row.email as string | null) ?? null,
    created_at: new Date(Number(row.created_at)).toISOString(),
    last_login_at: row.last_login_at === null || row.last_login_at === undefined ? null : new Date(Number(row.last_login_at)).toISOString(),
  };
}

export class UserLinks {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async find(providerId: string, subject: string): Promise<UserLink | null> {
    const row = await this.#db('user_links').where({ provider_id: providerId, subject }).first();
    return row ? toLink(row) : null;
  }

  async listForUser(userId: string): Promise<UserLink[]> {
    const rows = await this.#db('user_links')
      .leftJoin('identity_providers', 'identity_providers.id', 'user_links.provider_id')
      .where('user_links.user_id', userId)
      .orderBy('user_links.created_at', 'asc')
      .select('user_links.*', 'identity_providers.name as provider_name');
    return rows.map(toLink);
  }

  /**
   * Links the identity to the user (inside `trx` when given). A user keeps one identity per provider:
   * linking another identity of the same provider replaces it.
   */
  async link(input: { providerId: string; subject: string; userId: string; email: string | null; applicationId: string | null }, trx?: Knex.Transaction): Promise<void> {
    const write = async (tx: Knex.Transaction) => {
      await tx('user_links').where({ user_id: input.userId, provider_id: input.providerId }).delete();
      await tx('user_links').insert({
        provider_id: input.providerId,
        subject: input.subject,
        user_id: input.userId,
        email: input.email,
        created_at: Date.now(),
        last_login_at: null,
      });
      await recordEvent(tx, 'user.identity-provider.link', {
        user_id: input.userId,
        identity_provider_id: input.providerId,
        subject: input.subject,
        application_id: input.applicationId,
      });
    };
    await (trx ? write(trx) : this.#db.transaction(write));
  }

  async unlink(userId: string, providerId: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const row = await tx('user_links').where({ user_id: userId, provider_id: providerId }).first();
      if (!row) throw new NotFoundError('link');
      await tx('user_links').where({ user_id: userId, provider_id: providerId }).delete();
      await recordEvent(tx, 'user.identity-provider.unlink', { user_id: userId, identity_provider_id: providerId, subject: String(row.subject), application_id: null });
    });
  }

  async touch(providerId: string, subject: string): Promise<void> {
    await this.#db('user_links').where({ provider_id: providerId, subject }).update({ last_login_at: Date.now() });
  }
}
