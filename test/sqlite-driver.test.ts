// The SQLite driver (node:sqlite under knex): what knex's callers rely on comes back as they expect
// (rows as plain objects, insert ids, counts of changed rows, RETURNING, booleans and dates bound),
// a failed transaction leaves nothing behind, and a write waits while another process (the CLI, a
// second server) holds the write lock instead of failing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase, type Db } from '../src/db/knex.ts';

describe('SQLite driver', () => {
  let dir: string;
  let db: Db;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-sqlite-'));
    db = openDatabase(`sqlite:${join(dir, 'driver.db')}`);
    await db.schema.createTable('things', (t) => {
      t.increments('id');
      t.string('name').notNullable().unique();
      t.boolean('active');
      t.bigInteger('at');
    });
  });
  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('rows, insert ids, change counts, RETURNING, booleans and dates', async () => {
    const [id] = await db('things').insert({ name: 'a', active: true, at: new Date(1_700_000_000_000) });
    assert.equal(typeof id, 'number');
    const inserted = await db('things').insert({ name: 'b', active: false, at: 5 }).returning(['id', 'name']);
    assert.deepEqual(inserted, [{ id: id + 1, name: 'b' }]);
    const row = await db('things').where({ id }).first();
    assert.deepEqual(row, { id, name: 'a', active: 1, at: 1_700_000_000_000 });
    assert.equal(Object.getPrototypeOf(row), Object.prototype, 'rows are plain objects');
    assert.equal(await db('things').where({ active: false }).update({ active: true }), 1);
    assert.equal(await db('things').whereIn('name', ['a', 'b', 'c']).del(), 2);
    assert.deepEqual(await db('things').count({ n: '*' }), [{ n: 0 }]);
  });

  test('a transaction that fails part way leaves nothing written; the error names the problem', async () => {
    await db('things').insert({ name: 'taken' });
    await assert.rejects(
      db.transaction(async (trx) => {
        await trx('things').insert({ name: 'first' });
        await trx('things').insert({ name: 'taken' });
      }),
      /UNIQUE constraint failed: things\.name/,
    );
    assert.deepEqual(await db('things').pluck('name'), ['taken']);
  });

  test('a write waits while another process holds the write lock, instead of failing', async () => {
    // The other process: takes the write lock, says so, holds it 300 ms, commits.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `
      const { DatabaseSync } = require('node:sqlite');
      const other = new DatabaseSync(${JSON.stringify(join(dir, 'driver.db'))});
      other.exec("BEGIN IMMEDIATE; INSERT INTO things (name) VALUES ('from the other process')");
      process.stdout.write('locked\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      other.exec('COMMIT');
    `,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    await db('things').insert({ name: 'from here' });
    assert.equal(await exited, 0);
    assert.deepEqual(await db('things').whereIn('name', ['from the other process', 'from here']).orderBy('id').pluck('name'), ['from the other process', 'from here']);
  });
});
