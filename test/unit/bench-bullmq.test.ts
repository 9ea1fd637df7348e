import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_OP } from '../../bench/bullmq-flow';
import { flowProblems } from '../../bench/bullmq';
import { toEnv, workEnvOf } from '../../bench/bullmq-work';
import { choose, FULL, QUICK } from '../../bench/scenarios';

const clean = { published: 1_000, duplicates: 0, leftOver: 0 };

describe('the BullMQ rows: no-op and with the work', () => {
  test('each list has both rows, the work row beside the no-op one', () => {
    for (const [list, size] of [
      [FULL, '20k'],
      [QUICK, '1k'],
    ] as const) {
      const names = list.filter((s) => s.kind === 'bullmq').map((s) => s.name);
      assert.deepEqual(names, [`bullmq${size}`, `bullmq${size}-work`]);
    }
    assert.deepEqual(
      choose(['a20k-defaults', 'bullmq20k-work', 'bullmq20k'], false).map((s) => s.name),
      ['bullmq20k', 'bullmq20k-work', 'a20k-defaults'],
    );
  });

  test('the no-op stages hand the item on untouched', async () => {
    const item = { ref: 'r-1', text: 'cotton t-shirt' };
    assert.equal(await NO_OP.classify(item), item);
    assert.equal(await NO_OP.ingest(item), item);
  });

  test("the flow's process does the work only with the whole work environment, not with DATABASE_URL alone", () => {
    assert.equal(workEnvOf({ DATABASE_URL: 'postgres://x/db' }), undefined);
    const work = { databaseUrl: 'postgres://x/db', table: 'bench_bullmq_ab.items', publishUrl: 'http://127.0.0.1:1', runId: 'run' };
    assert.deepEqual(workEnvOf(toEnv(work)), work);
  });

  test('a clean run has no problems; the work row also needs every item at the target and in the table', () => {
    assert.deepEqual(flowProblems(clean, 1_000), []);
    assert.deepEqual(flowProblems(clean, 1_000, { published: 1_000, rows: 1_000 }), []);
    assert.deepEqual(flowProblems(clean, 1_000, { published: 999, rows: 998 }), [
      'the target holds 999 items of this run, not 1000',
      'the table holds 998 ingested items, not 1000',
    ]);
  });

  test('a lost, doubled or stuck item is a problem', () => {
    assert.deepEqual(flowProblems({ published: 998, duplicates: 1, leftOver: 2 }, 1_000), [
      '998 of 1000 items published exactly once',
      '1 items published more than once',
      '2 jobs left in the queues',
    ]);
  });
});
