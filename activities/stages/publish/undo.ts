/**
 * Undoing a publish: the compensation of each publish adapter. An answer says whether the remote
 * item is gone, may go on a later try, or will never go (then it is reported `orphaned`).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../src/db/schema';
import type { WorkItem } from '../../../src/db/items';
import { publishOne } from './http';

export type UndoResult = { ok: true } | { ok: false; retryable: boolean; message: string };

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
    const { rows } = await sql<{ id: string }>`select id from catalog_items where idempotency_key = ${`${batchId}:${item.ref}`}`.execute(db);
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
    let res: Response;
    try {
      res = await fetch(new URL(`items/${encodeURIComponent(id)}`, base), { method: 'DELETE', signal: AbortSignal.timeout(opts.timeoutMs) });
    } catch (err) {
      return { ok: false, retryable: true, message: `DELETE failed: ${(err as Error).message}` };
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 204 || res.status === 200 || res.status === 404) return { ok: true };
    return { ok: false, retryable: res.status === 429 || res.status >= 500, message: `DELETE answered ${res.status}` };
  };
