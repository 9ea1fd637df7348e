/**
 * Undoing a publish, for both targets: finding whether a publish in doubt created the remote item
 * (the resolvers), and deleting what was published (the unpublishers). An answer says whether the
 * remote item is gone, may go on a later try, or will never go (then it is reported `orphaned`).
 * `publishUndo` does both for a chunk's items; activities/compensate.ts calls it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../src/db/schema';
import type { WorkItem } from '../../../src/db/items';
import { publishOne } from './http';
import { httpCall, type HttpAnswer } from '../../../src/net/http-client';

/** Why an item's remote copy is not known to be gone. */
export interface UndoFailure {
  retryable: boolean;
  message: string;
}

export type UndoResult = { ok: true } | ({ ok: false } & UndoFailure);

export type Unpublisher = (publishedId: string) => Promise<UndoResult>;

/**
 * For an item whose publish ended without a recorded answer (a timeout, a lost response, a call
 * that failed as a whole): finds whether the target holds it, by its idempotency key, and its id.
 */
export type PublishResolver = (batchId: string, item: WorkItem) => Promise<{ id: string | null } | { error: string }>;

/** The catalog answers directly: a row with the key exists or not. */
export const catalogResolver =
  (db: Kysely<Database>): PublishResolver =>
  async (batchId, item) => {
    const { rows } = await sql<{ id: string }>`select id from catalog_items where idempotency_key = ${`${batchId}:${item.ref}`}`.execute(
      db,
    );
    return { id: rows[0]?.id ?? null };
  };

/**
 * An HTTP target has no lookup in the contract, but its POST is idempotent on the key: repeating it
 * answers the id of the item if it was created (and creates it if not, which the undo then removes).
 */
export const httpResolver =
  (opts: { baseUrl: string; timeoutMs: number }): PublishResolver =>
  async (batchId, item) => {
    const res = await publishOne({ ...opts, concurrency: 1 }, batchId, item);
    if ('ok' in res && res.ok) return { id: res.publishedId ?? null };
    if ('ok' in res && !res.ok && !res.failure.retryable) return { id: null };
    return { error: 'failure' in res ? res.failure.message : 'no answer' };
  };

/** The built-in catalog: a row delete cannot fail for the item's sake, only the database can. */
export const catalogUnpublisher =
  (db: Kysely<Database>): Unpublisher =>
  async (id) => {
    await sql`delete from catalog_items where id = ${id}`.execute(db);
    return { ok: true };
  };

/** `DELETE {PUBLISH_URL}/items/{id}`: 204, or 404 when already gone, both mean undone. */
export const httpUnpublisher =
  (opts: { baseUrl: string; timeoutMs: number }): Unpublisher =>
  async (id) => {
    const base = opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`;
    let res: HttpAnswer;
    try {
      // The answer's body says nothing a status does not: discarded, which frees the connection.
      res = await httpCall(new URL(`items/${encodeURIComponent(id)}`, base), {
        method: 'DELETE',
        timeoutMs: opts.timeoutMs,
        readBody: false,
      });
    } catch (err) {
      return { ok: false, retryable: true, message: `DELETE failed: ${(err as Error).message}` };
    }
    if (res.status === 204 || res.status === 200 || res.status === 404) return { ok: true };
    return { ok: false, retryable: res.status === 429 || res.status >= 500, message: `DELETE answered ${res.status}` };
  };

/**
 * An item whose publish may have created the remote item without anyone recording its id: the
 * target must be asked before the item can be called clean. That is any item a publish request
 * may have gone out for (`publish_sent`, written before the request) with no recorded answer: a
 * worker that died mid-call, a timeout, a 5xx. A 4xx rejection is a definite "no".
 */
export function inDoubt(item: WorkItem): boolean {
  if (item.published || !item.publish_sent) return false;
  if (item.status === 'failed') return item.error?.retryable !== false;
  return item.status === null || item.status === 'pending' || item.status === 'running';
}

/** What undoing a chunk's publishes left: the items not known to be gone, and the doubts answered. */
export interface PublishesUndone {
  failures: Map<number, UndoFailure>;
  /** In-doubt items the target answered for: found (and then unpublished) or not there. */
  resolved: number[];
}

/** Undoes the publishes of `items`; `heartbeat` is called after each item. */
export type PublishUndo = (batchId: string, items: WorkItem[], heartbeat: () => void) => Promise<PublishesUndone>;

const UNDO_CONCURRENCY = 8;

/**
 * A publish in doubt is resolved first; an item found at the target is then marked published, with
 * its id, on the `items` given, so that the caller records it (as orphaned, should its delete fail).
 */
export const publishUndo =
  (target: { resolve: PublishResolver; unpublish: Unpublisher }): PublishUndo =>
  async (batchId, items, heartbeat) => {
    const failures = new Map<number, UndoFailure>();
    const resolved: number[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const item = items[next++]!;
        if (inDoubt(item)) {
          const found = await target.resolve(batchId, item);
          if ('error' in found) {
            failures.set(item.seq, { retryable: true, message: `publish outcome unknown: ${found.error}` });
            continue;
          }
          resolved.push(item.seq);
          if (found.id === null) continue;
          item.published = true;
          item.published_id = found.id;
        }
        if (!item.published || !item.published_id) continue;
        const res = await target.unpublish(item.published_id);
        if (!res.ok) failures.set(item.seq, res);
        heartbeat();
      }
    };
    await Promise.all(Array.from({ length: UNDO_CONCURRENCY }, worker));
    return { failures, resolved };
  };
