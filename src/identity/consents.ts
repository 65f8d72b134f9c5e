// The consents a user gave (or refused) on the hosted pages, e.g. asked for by a hook during
// progressive profiling. A change and its webhook event are written in one transaction.
import type { Knex } from 'knex';
import type { Db } from '../db/knex.ts';
import { toBool } from '../db/knex.ts';
import { recordEvent } from '../webhooks/outbox.ts';

export interface ConsentRecord {
  key: string;
  granted: boolean;
  updated_at: string;
}

export class ConsentService {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async list(userId: string): Promise<ConsentRecord[]> {
    const rows = await this.#db('consents').where({ user_id: userId }).orderBy('key');
    return rows.map((row) => ({ key: String(row.key), granted: toBool(row.granted), updated_at: new Date(Number(row.updated_at)).toISOString() }));
  }

  /** Records the given answers; answers nothing changed as an empty list. */
  async set(userId: string, answers: Array<{ key: string; granted: boolean }>, trx?: Knex.Transaction, applicationId: string | null = null): Promise<Array<{ key: string; granted: boolean }>> {
    if (answers.length === 0) return [];
    const write = async (tx: Knex.Transaction) => {
      const now = Date.now();
      const changed: Array<{ key: string; granted: boolean }> = [];
      for (const answer of answers) {
        const current = await tx('consents').where({ user_id: userId, key: answer.key }).first();
        if (current && toBool(current.granted) === answer.granted) continue;
        await tx('consents').insert({ user_id: userId, key: answer.key, granted: answer.granted, updated_at: now }).onConflict(['user_id', 'key']).merge({ granted: answer.granted, updated_at: now });
        changed.push(answer);
      }
      if (changed.length > 0) await recordEvent(tx, 'user.consent.update', { user_id: userId, consents: changed, application_id: applicationId });
      return changed;
    };
    return trx ? write(trx) : this.#db.transaction(write);
  }
}
