// A named lease one server process holds at a time (server_leases), for work that one instance of all
// should do on a schedule shared by all (the clean-up): whoever finds the work due and the lease free
// takes it, does the work, and writes when it was done. A holder that dies leaves its lease to run
// out; one that stops releases it, so another instance (or the next start) takes it at once.
import { randomBytes } from 'node:crypto';
import type { Db } from './knex.ts';

export class ServerLease {
  readonly owner = `s_${randomBytes(8).toString('hex')}`;
  readonly #db: Db;
  readonly #name: string;

  constructor(db: Db, name: string) {
    this.#db = db;
    this.#name = name;
  }

  /**
   * Takes the lease for `leaseMs` if no one holds it and the work was last done `everyMs` ago or more
   * (or never). Answers whether this process holds it now.
   */
  async take(leaseMs: number, everyMs: number, now = Date.now()): Promise<boolean> {
    await this.#db('server_leases').insert({ name: this.#name, owner: null, lease_until: null, last_done_at: null }).onConflict('name').ignore();
    const taken = await this.#db('server_leases')
      .where({ name: this.#name })
      .andWhere((q) => q.whereNull('lease_until').orWhere('lease_until', '<', now))
      .andWhere((q) => q.whereNull('last_done_at').orWhere('last_done_at', '<=', now - everyMs))
      .update({ owner: this.owner, lease_until: now + leaseMs });
    return taken === 1;
  }

  /** The work is done: frees the lease and records when. */
  async done(now = Date.now()): Promise<void> {
    await this.#db('server_leases').where({ name: this.#name, owner: this.owner }).update({ owner: null, lease_until: null, last_done_at: now });
  }

  /** Frees the lease without recording the work as done (it failed, or this process stops). */
  async release(): Promise<void> {
    await this.#db('server_leases').where({ name: this.#name, owner: this.owner }).update({ owner: null, lease_until: null });
  }

  /** When the work was last done, by anyone (null: never). */
  async lastDoneAt(): Promise<number | null> {
    const row = await this.#db('server_leases').where({ name: this.#name }).first();
    return row?.last_done_at === null || row?.last_done_at === undefined ? null : Number(row.last_done_at);
  }
}
