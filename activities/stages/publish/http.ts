import { createHash } from 'node:crypto';
import type { WorkItem } from '../../../src/db/items';
import type { ItemResult, StageHandler } from '../runner';
import type { ItemFailure } from '../../errors';
import { headerValue, httpCall, unbuildable, type HttpAnswer } from '../../../src/net/http-client';

export interface HttpPublisherOptions {
  baseUrl: string;
  timeoutMs: number;
  /** Requests in flight at once from one chunk call. */
  concurrency: number;
}

/**
 * The Idempotency-Key of an item at the publish target: `<batch_id>:<encodeURIComponent(ref)>`.
 * Encoded, every ref is a valid header value (a ref outside Latin-1 made fetch throw) and keeps
 * its own key (HTTP trims a header's trailing spaces, so `x` and `x ` used to collide).
 */
export const publishKey = (batchId: string, ref: string): string => `${batchId}:${encodeURIComponent(ref)}`;

/**
 * The `http` publish adapter (the contract's publish-target section). Each item carries its
 * publishKey, so however often a call is retried the target creates each item once.
 */
export const httpPublisher =
  (opts: HttpPublisherOptions): StageHandler =>
  async (items, ctx) => {
    const results: ItemResult[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length && !ctx.signal.aborted) {
        const item = items[next++]!;
        results.push(await publishOne(opts, ctx.batchId, item));
        ctx.progress();
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, items.length) }, worker));
    return results;
  };

/**
 * A request already sent is not aborted when the batch is cancelled: the target may complete it
 * anyway, and then the item would be published with nothing recording it. Cancellation stops new
 * requests; those in flight finish (within the timeout) and are recorded.
 */
export async function publishOne(opts: HttpPublisherOptions, batchId: string, item: WorkItem): Promise<ItemResult> {
  const body = JSON.stringify({
    ref: item.ref,
    text: item.text,
    classification: item.classification,
    attributes: item.attributes ?? {},
    content_sha256: item.content_b64 ? createHash('sha256').update(Buffer.from(item.content_b64, 'base64')).digest('hex') : null,
  });
  let res: HttpAnswer;
  try {
    res = await httpCall(new URL('items', withSlash(opts.baseUrl)), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': publishKey(batchId, item.ref) },
      body,
      timeoutMs: opts.timeoutMs,
    });
  } catch (err) {
    // A request that cannot even be built fails for good: retrying would build it the same way.
    if (unbuildable(err)) {
      return {
        seq: item.seq,
        ok: false,
        failure: {
          code: 'invalid_request',
          message: `cannot send this item to the publish target: ${(err as Error).message}`,
          retryable: false,
        },
      };
    }
    return { seq: item.seq, ok: false, failure: transient(`publish request failed: ${(err as Error).message}`) };
  }
  const text = res.text;
  if (res.status === 201 || res.status === 200) {
    const id = parseId(text);
    if (id) return { seq: item.seq, ok: true, publishedId: id };
    return { seq: item.seq, ok: false, failure: transient(`publish target answered ${res.status} without an id`) };
  }
  if (res.status === 429 || res.status >= 500) {
    return {
      seq: item.seq,
      ok: false,
      failure: {
        ...transient(`publish target answered ${res.status}`),
        retryAfterMs: retryAfterMs(headerValue(res.headers, 'retry-after')),
      },
    };
  }
  const failure: ItemFailure = {
    code: res.status === 404 ? 'not_found' : 'downstream_rejected',
    message: `publish target answered ${res.status}: ${text.slice(0, 300)}`,
    retryable: false,
  };
  return { seq: item.seq, ok: false, failure };
}

const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);

const transient = (message: string): ItemFailure => ({ code: 'transient', message, retryable: true });

function parseId(text: string): string | undefined {
  try {
    const id: unknown = (JSON.parse(text) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After is seconds or an HTTP date; anything else means "no advice". */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
