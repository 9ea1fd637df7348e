/**
 * The one way a compatibility POST becomes a batch: its body, translated into a /v1 submission,
 * goes through the same schema, the same translation (toSubmission) and the same use-case layer as
 * POST /v1/batches, so these routes cannot drift from the contract's behaviour.
 */
import type { Context } from 'koa';
import type { z } from 'zod';
import { SubmitBatch } from '../../../contracts/http';
import { hashRequest, toSubmission, type Batches, type Submitted } from '../../../batches';
import { BatchflowError, validationFailed, type ErrorDetail } from '../../../errors';
import type { AuthedKey } from '../../middleware/auth';
import { detailsFromZod } from '../../validate';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's idempotency key: the `Idempotency-Key` header, as on /v1, or the body's
 * `idempotency_key` where a design carries it there. Both given and different is an error.
 */
export function idempotencyKeyOf(ctx: Context, fromBody?: string): string | undefined {
  const header = ctx.get('idempotency-key') || undefined;
  if (header !== undefined && !IDEMPOTENCY_KEY.test(header)) {
    throw validationFailed([{ path: 'Idempotency-Key', issue: 'must be 1..255 printable ASCII characters' }]);
  }
  if (header !== undefined && fromBody !== undefined && header !== fromBody) {
    throw validationFailed([{ path: 'idempotency_key', issue: 'differs from the Idempotency-Key header' }]);
  }
  return fromBody ?? header;
}

export interface CompatSubmission {
  /** Names the route in the idempotency hash: one body sent to two routes is two different requests. */
  route: string;
  /**
   * The request as its schema read it (unknown fields dropped), hashed for idempotency; `null`
   * hashes the route alone, so the same key answers the first batch whatever the body (the
   * part-number design).
   */
  raw: unknown;
  /** The same request in /v1 terms. */
  v1: z.input<typeof SubmitBatch>;
  idempotencyKey: string | undefined;
  /** Turns a /v1 path (`items.3.ref`) back into the client's (`products.3.product_id`). */
  renamePath: (path: string) => string;
}

export async function submitCompat(ctx: Context, batches: Batches, s: CompatSubmission): Promise<Submitted> {
  const rename = (details: ErrorDetail[]): ErrorDetail[] => details.map((d) => ({ ...d, path: s.renamePath(d.path) }));
  const parsed = SubmitBatch.safeParse(s.v1);
  if (!parsed.success) throw validationFailed(rename(detailsFromZod(parsed.error)));
  const submission = toSubmission(parsed.data);
  if (!submission.ok) throw validationFailed(rename(submission.problems));
  const key = ctx.state.key as AuthedKey | undefined;
  try {
    return await batches.submit(ctx.state.tenantId as string, submission.value, {
      requestHash: hashRequest(s.raw === null ? { route: s.route } : { route: s.route, body: s.raw }),
      idempotencyKey: s.idempotencyKey,
      limits: key?.limits,
    });
  } catch (err) {
    // The key's item ceiling names `items`: say it in the client's own field names.
    if (err instanceof BatchflowError && err.code === 'validation_failed' && err.details) throw validationFailed(rename(err.details));
    throw err;
  }
}

/**
 * A path renamer for a list that stands in for `items`: `items.N.<field>` becomes
 * `<list>.N.<fields[field]>`, and `items_text…` becomes `<textField>…`.
 */
export function renamer(list: string, fields: Record<string, string>, textField?: string): (path: string) => string {
  return (path) => {
    const item = /^items\.(\d+)(?:\.(\w+))?(.*)$/.exec(path);
    if (item) {
      const [, index, field, rest] = item;
      if (field === undefined) return `${list}.${index}`;
      const mapped = fields[field];
      return mapped === '' ? `${list}.${index}${rest}` : `${list}.${index}.${mapped ?? field}${rest}`;
    }
    if (textField && path.startsWith('items_text')) return textField + path.slice('items_text'.length);
    if (path === 'items') return list;
    return path;
  };
}
