// A change that transactional webhook endpoints must accept first (CONTRACT §6), for services whose
// change is easiest to write once: `work` runs in a transaction that is rolled back, to learn the
// events it records; the endpoints are asked about them with no transaction open (transactional.ts);
// then `work` runs again, for real, with the same time and id, and commits only if it records the
// same events with the same data (anything else means the data changed meanwhile: 409). Inside an
// outer transaction (KICKSTART), or with no transactional endpoint at all, nothing waits: `work` runs
// once.
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { toJson, type Db } from '../db/knex.ts';
import { ConflictError } from '../errors.ts';
import { recordWithComplete, type CompletableEventType, type PassedEvent } from './outbox.ts';
import type { Gate } from './transactional.ts';

export interface ChangeContext {
  /** The change's time, the same in both runs. */
  now: number;
  /** A fresh id for what the change creates, the same in both runs. */
  id: string;
  /** Records an event of the change (and its `.complete` twin). */
  record(tx: Knex.Transaction, type: CompletableEventType, data: Record<string, unknown>): Promise<void>;
}

const DRY_RUN = Symbol('dry run');

export async function gatedChange<T>(db: Db | Knex.Transaction, gate: Gate, work: (tx: Knex.Transaction, change: ChangeContext) => Promise<T>): Promise<T> {
  const now = Date.now();
  const id = randomUUID().replaceAll('-', '');
  if ((db as Knex.Transaction).isTransaction || !(await gate.active())) {
    return db.transaction((tx) => work(tx, { now, id, record: async (t, type, data) => void (await recordWithComplete(t, type, data)) }));
  }
  const events: Array<{ type: CompletableEventType; data: Record<string, unknown> }> = [];
  const dry: T[] = [];
  await db
    .transaction(async (tx) => {
      dry.push(await work(tx, { now, id, record: async (_t, type, data) => void events.push({ type, data }) }));
      throw DRY_RUN;
    })
    .catch((error: unknown) => {
      if (error !== DRY_RUN) throw error;
    });
  // Nothing to announce (no change, say): the dry run's answer stands, nothing was written.
  if (events.length === 0) return dry[0]!;
  const passed: Array<PassedEvent | null> = [];
  for (const event of events) passed.push(await gate.pass(event.type, event.data));
  let recorded = 0;
  return db.transaction(async (tx) => {
    const value = await work(tx, {
      now,
      id,
      record: async (t, type, data) => {
        const expected = events[recorded++];
        if (!expected || expected.type !== type || toJson(expected.data) !== toJson(data)) throw new ConflictError('body', 'what this change is about changed while it was being made; try again');
        await recordWithComplete(t, type, data, passed);
      },
    });
    if (recorded !== events.length) throw new ConflictError('body', 'what this change is about changed while it was being made; try again');
    return value;
  });
}
