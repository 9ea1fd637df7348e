/**
 * File submissions (POST /v1/batches as CSV or NDJSON): the body is parsed as it streams in, each
 * row validated as a JSON item would be, and the options come from the query string.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { MAX_ITEMS, UPLOAD_MEDIA_TYPES } from '../../contracts/http';
import { checkedSubmission, type Submission } from '../../batches';
import { unsupportedMediaType } from '../../errors';
import { collectItems } from './collect';
import { csvRows } from './csv';
import { meteredBody } from './meter';
import { ndjsonRows } from './ndjson';
import { optionsFromQuery } from './query';

export type SubmitFormat = 'json' | keyof typeof UPLOAD_MEDIA_TYPES;

/**
 * Which form a submission's body takes, from its Content-Type. A body of any other type is 415
 * (a request without a body is left to the JSON path, which answers what is missing).
 */
export function submitFormat(ctx: Context): SubmitFormat {
  if (ctx.is(UPLOAD_MEDIA_TYPES.csv)) return 'csv';
  if (ctx.is(UPLOAD_MEDIA_TYPES.ndjson)) return 'ndjson';
  if (ctx.is('application/json') || !hasBody(ctx)) return 'json';
  throw unsupportedMediaType(`application/json, ${UPLOAD_MEDIA_TYPES.csv} or ${UPLOAD_MEDIA_TYPES.ndjson}`);
}

const hasBody = (ctx: Context): boolean => Number(ctx.get('content-length') || '0') > 0 || ctx.get('transfer-encoding') !== '';

export interface UploadOptions {
  maxBodyBytes: number;
  /** Items a batch may hold (default: the contract's ceiling). */
  maxItems?: number;
}

/**
 * Reads a CSV or NDJSON submission. `requestHash` (for Idempotency-Key) is a SHA-256 over the
 * format, the normalised options and the body's bytes, computed as they stream: the same file
 * with the same options hashes the same whatever order or defaults the query spelled out.
 */
export async function readUpload(
  ctx: Context,
  format: Exclude<SubmitFormat, 'json'>,
  opts: UploadOptions,
): Promise<{ submission: Submission; requestHash: string }> {
  try {
    const charset = ctx.request.charset;
    if (charset && !/^(utf-?8|us-ascii)$/i.test(charset)) throw unsupportedMediaType(`${UPLOAD_MEDIA_TYPES[format]} in UTF-8`);
    const options = optionsFromQuery(ctx.query);
    const digest = createHash('sha256').update(`${format}\n${JSON.stringify(options)}\n`);
    const chunks = meteredBody(ctx.req, opts.maxBodyBytes, digest);
    const rows = format === 'csv' ? csvRows(chunks) : ndjsonRows(chunks);
    const items = await collectItems(rows, { maxItems: opts.maxItems ?? MAX_ITEMS, cell: format === 'csv' ? 'column' : 'field' });
    return { submission: checkedSubmission({ ...options, items }), requestHash: digest.digest('hex') };
  } finally {
    // A refused file may be left half read: close the connection after the answer rather than
    // read the rest of it.
    if (!ctx.req.readableEnded) ctx.set('Connection', 'close');
  }
}
