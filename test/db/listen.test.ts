/**
 * LISTEN on PostgreSQL (src/db/listen.ts): the listening connection is the database's to lose. When
 * it is killed, the listener reports a gap and is not live (a row cache then keeps nothing), comes
 * back by itself, reports a gap again (what changed meanwhile was not heard), and hears again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BATCH_CHANGED } from '../../src/batches/row-cache';
import { RECONNECT_MS } from '../../src/db/listen';
import { openDb } from '../../src/db/connect';
import { eventually } from '../helpers/api';

const url = process.env.DATABASE_URL;

test(
  'a killed listening connection reports a gap, is not live, comes back by itself and hears again',
  { skip: url ? false : 'PostgreSQL only (DATABASE_URL): PGlite notifies in-process, with no connection to lose' },
  async () => {
    const db = await openDb({ url: url!, poolSize: 1 });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const channel = `${BATCH_CHANGED}_${process.pid}`;
    const heard: string[] = [];
    let gaps = 0;
    const listening = await db.listen(channel, { message: (p) => heard.push(p), gap: () => gaps++ });
    try {
      assert.equal(listening.live(), true);
      const gapsAtStart = gaps;
      await admin.query('select pg_notify($1, $2)', [channel, 'one']);
      await eventually('the first notification', () => heard.includes('one'));

      const killed = await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where query = $1 and pid <> pg_backend_pid()`,
        [`listen ${channel}`],
      );
      assert.equal(killed.rowCount, 1, 'the listening connection was found and killed');
      await eventually('the loss to be noticed', () => !listening.live() && gaps > gapsAtStart);
      // Back after RECONNECT_MS, with a second gap: changes between the two were not heard.
      await eventually('the listener to come back', () => listening.live(), RECONNECT_MS * 20);
      assert.ok(gaps >= gapsAtStart + 2, `gaps reported: ${gaps - gapsAtStart}`);
      await admin.query('select pg_notify($1, $2)', [channel, 'two']);
      await eventually('a notification after the reconnect', () => heard.includes('two'));
    } finally {
      await listening.close();
      await admin.end();
      await db.close();
    }
  },
);
