/**
 * Progress reads that never wait on a busy worker. A progress query runs on a worker, so under
 * load each one takes seconds, and N readers of a batch would ask N times. Instead ONE poller per
 * running batch per process asks the workflow, again `intervalMs` after each answer (never on a
 * fixed timer, so a slow answer cannot make queries pile up), and every read answers at once from
 * its last snapshot, saying how old it is. A batch's first read does not wait either: it starts the
 * poller and answers null, so the caller answers from the database row. Only the first read after
 * `forget` (a signal or update) waits for the workflow's fresh answer: a client reads its own change.
 * A poller stops once nobody has read it for `idleMs`, or when the batch has ended.
 */
import { isTerminal, type Progress } from '../contracts/workflow';
import type { BatchRow } from '../db/schema';

export interface Snapshot {
  progress: Progress;
  /** When the workflow answered (epoch ms). */
  at: number;
}

export interface ProgressCacheOptions {
  /** Asks the batch's workflow; null when it did not answer (the caller has logged why). */
  ask: (row: BatchRow) => Promise<Progress | null>;
  /** PROGRESS_POLL_MS: the pause after each answer before the next query. */
  intervalMs: number;
  /** A poller nobody has read for this long stops. */
  idleMs?: number;
  /** At most this many pollers; past it the least recently read one stops. */
  maxPollers?: number;
  now?: () => number;
}

export const DEFAULT_POLL_MS = 500;
export const DEFAULT_IDLE_MS = 5_000;
export const DEFAULT_MAX_POLLERS = 10_000;

interface Poller {
  row: BatchRow;
  last: Snapshot | undefined;
  lastReadAt: number;
  /** Settles with the first answer (or failure): what the first read after `forget` waits for. */
  first: Promise<void>;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

export interface ProgressCache {
  /**
   * The latest snapshot of a running batch's progress, or null when the workflow has not answered
   * yet. Waits only after `forget`, for the fresh answer.
   */
  read(row: BatchRow): Promise<Snapshot | null>;
  /** Drops a batch's snapshot: after a signal or update, the next read waits for the workflow's fresh answer. */
  forget(batchId: string): void;
  /** How many batches are polled now. */
  size(): number;
  close(): void;
}

export function createProgressCache(opts: ProgressCacheOptions): ProgressCache {
  const idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
  const maxPollers = opts.maxPollers ?? DEFAULT_MAX_POLLERS;
  const now = opts.now ?? Date.now;
  // A Map keeps insertion order: re-inserting on each read makes its first key the least recently read.
  const pollers = new Map<string, Poller>();
  // Batches whose next read waits for a fresh answer (forgotten since their last read); bounded
  // like the pollers, oldest first out.
  const fresh = new Set<string>();

  function stop(id: string, p: Poller): void {
    p.stopped = true;
    if (p.timer) clearTimeout(p.timer);
    if (pollers.get(id) === p) pollers.delete(id);
  }

  async function poll(id: string, p: Poller): Promise<void> {
    const progress = await opts.ask(p.row).catch(() => null);
    // A failed query keeps the last snapshot: its `at` says how old it is. An answer that comes
    // after its poller was stopped (evicted, forgotten) still goes to the reads waiting for it.
    if (progress) p.last = { progress, at: now() };
    if (p.stopped) return;
    if ((progress && isTerminal(progress.status)) || now() - p.lastReadAt >= idleMs) {
      // An ended batch's final snapshot is dropped with its poller: its row has the end by the next read.
      stop(id, p);
      return;
    }
    p.timer = setTimeout(() => void poll(id, p), opts.intervalMs);
    p.timer.unref();
  }

  /** Marks a read: the poller moves to the most recently read end, and past the cap the least recently read one stops. */
  function touch(id: string, p: Poller): void {
    p.lastReadAt = now();
    pollers.delete(id);
    pollers.set(id, p);
    if (pollers.size > maxPollers) {
      const [oldest, q] = pollers.entries().next().value as [string, Poller];
      stop(oldest, q);
    }
  }

  return {
    async read(row) {
      let p = pollers.get(row.id);
      if (!p) {
        p = { row, last: undefined, lastReadAt: now(), first: Promise.resolve(), timer: undefined, stopped: false };
        p.first = poll(row.id, p);
      }
      const wait = fresh.delete(row.id);
      touch(row.id, p);
      if (wait && !p.last) await p.first;
      return p.last ?? null;
    },
    forget(batchId) {
      const p = pollers.get(batchId);
      if (p) stop(batchId, p);
      fresh.delete(batchId);
      fresh.add(batchId);
      if (fresh.size > maxPollers) fresh.delete(fresh.values().next().value as string);
    },
    size: () => pollers.size,
    close() {
      fresh.clear();
      for (const [id, p] of [...pollers]) stop(id, p);
    },
  };
}
