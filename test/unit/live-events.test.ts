/**
 * How a poller's finding becomes a watcher's next event (src/api/live/events.ts): finished counts
 * never go back within a stream, a snapshot already sent is not sent again, and the terminal
 * event always goes out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advance, type Snapshot } from '../../src/api/live/events';
import { START, type Position } from '../../src/api/live/position';
import type { BatchBody } from '../../src/batches/view';

const snapshot = (status: string, d: number, h: string): Snapshot => ({
  kind: 'snapshot',
  body: { status, total_items: 100, counts: { pending: 100 - d } } as unknown as BatchBody,
  d,
  h,
});

test('a snapshot behind what the watcher has seen is skipped: finished counts never go back', () => {
  const pos: Position = { ...START };
  assert.equal(advance(pos, snapshot('running', 40, 'aaaaaaaa'), 'b')?.id, '0.40.aaaaaaaa');
  // The row's stale counts, answered while the workflow's query failed.
  assert.equal(advance(pos, snapshot('running', 0, 'bbbbbbbb'), 'b'), undefined);
  assert.deepEqual(pos, { f: 0, d: 40, h: 'aaaaaaaa' }, 'the position does not move back');
  assert.equal(advance(pos, snapshot('running', 60, 'cccccccc'), 'b')?.id, '0.60.cccccccc');
});

test('the same snapshot is not sent twice; the terminal event always is', () => {
  const pos: Position = { ...START };
  assert.ok(advance(pos, snapshot('running', 10, 'aaaaaaaa'), 'b'));
  assert.equal(advance(pos, snapshot('running', 10, 'aaaaaaaa'), 'b'), undefined);
  const end = advance(pos, snapshot('completed', 10, 'completed'), 'b');
  assert.equal(end?.type, 'completed');
  assert.equal(end?.id, '0.10.completed');
});
