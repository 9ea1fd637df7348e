/**
 * Undoing a publish: the compensation of each publish adapter. An answer says whether the remote
 * item is gone, may go on a later try, or will never go (then it is reported `orphaned`).
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/db/schema';

export type UndoResult = { ok: true } | { ok: false; retryable: boolean; message: string };

export type Unpublisher = (publishedId: string) => Promise<UndoResult>;

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
