/**
 * Event ids of live progress, derived from the batch's state and never from a connection, so a
 * client can resume on any API process. An id is `<f>.<d>.<h>`, the position of a watcher just
 * after the event:
 *
 * - `f`: one past the seq of the last failed item reported (0: none yet). Failed items are
 *   reported in seq order, and only once every lower item is final (see firstUnfinished), so
 *   "every failed item with seq < f" is a stable, exact description of what was reported.
 * - `d`: finished items (total − pending) in the last snapshot sent.
 * - `h`: 8 hex digits of a digest of that snapshot (status, counts, stage); for the terminal
 *   event, the final status itself (`completed`, `partial`, `failed`, `cancelled`).
 *
 * Resuming from `f.d.h` means: report failed items from seq f on, and send the current snapshot
 * unless its digest is h. Neither `f` nor `d` ever goes down while a run lasts.
 */
import { createHash } from 'node:crypto';
import { TERMINAL_BATCH_STATUSES, type BatchStatus } from '../../contracts/workflow';
import type { BatchBody } from '../../batches/view';

export interface Position {
  f: number;
  d: number;
  h: string;
}

export const START: Readonly<Position> = { f: 0, d: 0, h: '0' };

const ID = /^(\d{1,10})\.(\d{1,10})\.([0-9a-f]{8}|0|completed|partial|failed|cancelled)$/;

export const formatId = (p: Position): string => `${p.f}.${p.d}.${p.h}`;

/** The position an id names; undefined for anything that is not one of ours (treated as no id). */
export function parseId(id: string | undefined): Position | undefined {
  const m = id ? ID.exec(id) : null;
  return m ? { f: Number(m[1]), d: Number(m[2]), h: m[3]! } : undefined;
}

/** True when the id is that of a terminal event: nothing follows it. */
export const isTerminalId = (id: string | undefined): boolean =>
  (TERMINAL_BATCH_STATUSES as readonly string[]).includes(parseId(id)?.h ?? '');

/** What identifies a snapshot: only what a watcher cares about (rates and ETAs move on their own). */
export function snapshotStamp(body: BatchBody): { d: number; h: string } {
  const d = body.total_items - body.counts.pending;
  if ((TERMINAL_BATCH_STATUSES as readonly BatchStatus[]).includes(body.status)) return { d, h: body.status };
  const digest = createHash('sha256')
    .update(JSON.stringify([body.status, body.counts, body.stage]))
    .digest('hex');
  return { d, h: digest.slice(0, 8) };
}
