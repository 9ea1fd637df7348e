/**
 * The HTTP contract's messages (docs/api.md), as zod schemas; types are inferred from them.
 * The same schemas validate requests and, later, generate the OpenAPI document.
 *
 * Every optional field of a JSON body goes through `optionalNullable`: `null` means the field left
 * out (docs/api.md, "Conventions"), and the OpenAPI document marks it nullable. Query parameters
 * are strings and never null, so the query schemas do not.
 */
import { z } from 'zod';
import { optionalNullable } from './optional-nullable';
import { BATCH_STATUSES, ITEM_STATUSES, ON_CANCEL, PRIORITIES, STAGES } from './workflow';

export { optionalNullable } from './optional-nullable';

/** The contract's default ceiling; a key may lower it (`max_items`). */
export const MAX_ITEMS = 50_000;
export const MAX_REF_CHARS = 200;
export const MAX_TEXT_CHARS = 100_000;
/** 10 MiB decoded is at most this many base64 characters. */
export const MAX_CONTENT_B64_CHARS = Math.ceil((10 * 1024 * 1024) / 3) * 4;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const Item = z
  .strictObject({
    ref: z.string().min(1).max(MAX_REF_CHARS),
    text: optionalNullable(z.string().max(MAX_TEXT_CHARS).optional()),
    content: optionalNullable(
      z
        .string()
        .max(MAX_CONTENT_B64_CHARS)
        .refine((s) => s.length % 4 === 0 && BASE64.test(s), 'must be base64')
        .optional(),
    ),
    content_type: optionalNullable(z.string().min(1).max(255).optional()),
    attributes: optionalNullable(z.record(z.string(), z.unknown()).optional()),
  })
  .refine((item) => item.text !== undefined || item.content !== undefined, {
    message: 'one of text or content is required',
    path: ['text'],
  });
export type Item = z.infer<typeof Item>;

/** `stages` must keep the pipeline's order: ingest never runs before classify. */
const Stages = z
  .array(z.enum(STAGES))
  .min(1)
  .refine((s) => s.every((stage, i) => i === 0 || STAGES.indexOf(stage) > STAGES.indexOf(s[i - 1]!)), {
    message: `must be distinct and in the order ${STAGES.join(', ')}`,
  });

const CallbackUrl = z.url({ protocol: /^https?$/ }).max(2048);
/** The contract's bounds of the chunking options; left out, both are chosen per batch (src/batches/chunking.ts). */
export const MAX_CHUNK_SIZE = 500;
export const MAX_PARALLEL_CHUNKS = 64;
const ChunkSize = z.int().min(1).max(MAX_CHUNK_SIZE);
const MaxParallelChunks = z.int().min(1).max(MAX_PARALLEL_CHUNKS);
const CHOSEN = 'default: chosen from the batch size and the worker slots, see docs/api.md';
const Priority = z.enum(PRIORITIES);
const OnCancel = z.enum(ON_CANCEL);
const MaxFailureRatio = z.number().min(0).max(1);
const Metadata = z.record(z.string(), z.unknown());

/**
 * The options every submission form shares (JSON body, or query parameters for files). The chunking
 * options have no default here: left out, they stay undefined, and submit chooses them from the
 * batch's size (src/batches/chunking.ts), which this schema does not know.
 */
export const BatchOptionsInput = z.strictObject({
  stages: optionalNullable(Stages.default([...STAGES])),
  chunk_size: optionalNullable(ChunkSize.optional().describe(`Items per chunk, 1..${MAX_CHUNK_SIZE} (${CHOSEN}).`)),
  max_parallel_chunks: optionalNullable(
    MaxParallelChunks.optional().describe(`Chunks in flight at once, 1..${MAX_PARALLEL_CHUNKS} (${CHOSEN}).`),
  ),
  priority: optionalNullable(Priority.default('normal')),
  callback_url: optionalNullable(CallbackUrl.optional()),
  on_cancel: optionalNullable(OnCancel.default('keep')),
  max_failure_ratio: optionalNullable(MaxFailureRatio.default(1)),
  metadata: optionalNullable(Metadata.default({})),
});

export const SubmitBatch = BatchOptionsInput.extend({
  items: optionalNullable(z.array(Item).min(1).max(MAX_ITEMS).optional()),
  items_text: optionalNullable(z.string().min(1).optional()),
}).superRefine((body, ctx) => {
  if (body.items !== undefined && body.items_text !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['items_text'], message: 'give items or items_text, not both' });
  } else if (body.items === undefined && body.items_text === undefined) {
    ctx.addIssue({ code: 'custom', path: ['items'], message: 'required (or items_text)' });
  }
});
export type SubmitBatch = z.infer<typeof SubmitBatch>;

/** The media types of a file submission (the batch options then travel as query parameters). */
export const UPLOAD_MEDIA_TYPES = { csv: 'text/csv', ndjson: 'application/x-ndjson' } as const;

const commaList = (s: string): string[] =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');

const jsonValue = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object, e.g. {"corridor":"MX_US"}' });
    return z.NEVER;
  }
});

/**
 * POST /v1/batches with a file body (`text/csv`, `application/x-ndjson`): the batch options as query
 * parameters. Each parameter pipes into the JSON body's own schema for that field, so both forms
 * accept exactly the same values; BatchOptionsInput then fills the defaults (not the chunking's,
 * which submit chooses).
 */
export const SubmitBatchQuery = z.strictObject({
  stages: z
    .string()
    .transform(commaList)
    .pipe(Stages)
    .optional()
    .describe('Comma-separated subset of classify,ingest,publish, in that order (default all three).'),
  chunk_size: z.coerce.number().pipe(ChunkSize).optional().describe(`Items per chunk, 1..${MAX_CHUNK_SIZE} (${CHOSEN}).`),
  max_parallel_chunks: z.coerce
    .number()
    .pipe(MaxParallelChunks)
    .optional()
    .describe(`Chunks in flight at once, 1..${MAX_PARALLEL_CHUNKS} (${CHOSEN}).`),
  priority: Priority.optional().describe('normal (default) or express.'),
  callback_url: CallbackUrl.optional().describe('http(s) URL that receives the completion webhook.'),
  on_cancel: OnCancel.optional().describe('keep (default) or rollback.'),
  max_failure_ratio: z.coerce
    .number()
    .pipe(MaxFailureRatio)
    .optional()
    .describe('0..1 (default 1): past this share of failed items the batch stops and rolls back.'),
  metadata: jsonValue
    .pipe(Metadata)
    .optional()
    .describe('The batch metadata as a URL-encoded JSON object, e.g. metadata=%7B%22corridor%22%3A%22MX_US%22%7D.'),
});
export type SubmitBatchQuery = z.infer<typeof SubmitBatchQuery>;

/**
 * Splits part-number style input into refs: the pieces between separators (by default newlines,
 * commas, semicolons and tabs), trimmed, empties dropped. Counted as it goes: at most `max` refs
 * are ever built, and `more` says the text held more, so a huge text costs no more than `max`.
 */
export function refsFromText(text: string, max: number = MAX_ITEMS, pieces: RegExp = /[^\n\r,;\t]+/g): { refs: string[]; more: boolean } {
  const refs: string[] = [];
  for (const m of text.matchAll(pieces)) {
    const ref = m[0].trim();
    if (!ref) continue;
    if (refs.length === max) return { refs, more: true };
    refs.push(ref);
  }
  return { refs, more: false };
}

export const CancelBatch = z.strictObject({ rollback: optionalNullable(z.boolean().optional()) });
export type CancelBatch = z.infer<typeof CancelBatch>;

/** Opaque cursors are validated loosely here and decoded by the repository. */
const Cursor = z.string().min(1).max(200);

export const ListBatchesQuery = z.strictObject({
  status: z.enum(BATCH_STATUSES).optional(),
  stale: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('true: only batches queued or running for longer than STALE_BATCH_MINUTES; false: only the others'),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: Cursor.optional(),
});
export type ListBatchesQuery = z.infer<typeof ListBatchesQuery>;

export const ListItemsQuery = z.strictObject({
  status: z.enum(ITEM_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: Cursor.optional(),
});
export type ListItemsQuery = z.infer<typeof ListItemsQuery>;

/** PATCH /v1/batches/{id}: ramp a running batch up or down. */
export const ConfigureBatch = z
  .strictObject({
    max_parallel_chunks: optionalNullable(MaxParallelChunks.optional()),
    max_failure_ratio: optionalNullable(MaxFailureRatio.optional()),
  })
  .refine((p) => p.max_parallel_chunks !== undefined || p.max_failure_ratio !== undefined, {
    message: 'give max_parallel_chunks or max_failure_ratio',
  });
export type ConfigureBatch = z.infer<typeof ConfigureBatch>;

/** POST /v1/batches/cancel: cancel every batch of the tenant in one state. */
export const CancelBatches = z.strictObject({
  status: z.enum(['queued', 'running', 'paused']),
  rollback: optionalNullable(z.boolean().optional()),
});
export type CancelBatches = z.infer<typeof CancelBatches>;

/** POST /v1/batches/cleanup: runs retention now for the tenant. */
export const CleanupBatches = z
  .strictObject({
    older_than_days: z
      .number()
      .min(0)
      .max(36_500)
      .describe('delete finished batches that finished longer ago than this many days (0: every finished batch)'),
  })
  .describe("Deletes the tenant's finished batches (items, staged records, audit events, blobs); running batches are never touched");
export type CleanupBatches = z.infer<typeof CleanupBatches>;

export const ReviewQuery = z.strictObject({
  batch_id: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: Cursor.optional(),
});

export const ResolveReview = z.strictObject({ label: z.string().trim().min(1).max(50) });

export const CatalogQuery = z.strictObject({
  batch_id: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: Cursor.optional(),
});

/** GET /v1/batches/{id}/export. csv is the default: the first of the contract's formats, and what a download opens in. */
export const EXPORT_FORMATS = ['csv', 'ndjson', 'json', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const ExportQuery = z.strictObject({
  format: z.enum(EXPORT_FORMATS).default('csv'),
});
