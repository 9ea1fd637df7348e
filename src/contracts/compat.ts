/**
 * The compatibility routes (docs/api.md "Compatibility routes"): requests and answers in the
 * original designs' own models (shared/seeds/000 classify, 001 documents, 003 part numbers),
 * field for field. Each request is translated into an ordinary submission (src/api/routes/compat/).
 *
 * Unlike /v1, unknown fields are ignored rather than refused, as the designs' frameworks (Flask,
 * Pydantic) do. An optional field sent as null means the same as the field left out
 * (optionalNullable, as on /v1), since Python clients send None that way.
 */
import { z } from 'zod';
import { MAX_CONTENT_B64_CHARS, MAX_ITEMS, MAX_REF_CHARS, MAX_TEXT_CHARS } from './http';
import { optionalNullable } from './optional-nullable';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CallbackUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .describe('POSTed the completion webhook when the job finishes (http or https).');
const IdempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1..255 printable ASCII characters')
  .describe('The same key again answers the batch it made first, whatever the body (as the part-number design does).');
const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
const Timestamp = z.iso.datetime();

// --- 000 classify: POST /api/v1/classify/bulk, GET /api/v1/jobs/{job_id} ---------------------

/** The classify design's ceiling on one bulk request. */
export const MAX_BULK_PRODUCTS = 500;

/** The design's priorities are normal and express; `low` and `high` are taken too (as normal and express). */
export const CLASSIFY_PRIORITIES = ['low', 'normal', 'high', 'express'] as const;

export const BulkProduct = z
  .object({
    product_id: z
      .string()
      .min(1)
      .max(MAX_REF_CHARS)
      .describe("The client's id of the product; unique within the request. Becomes the item's ref."),
    description: z.string().min(1).max(MAX_TEXT_CHARS).describe('What is classified: becomes the item text.'),
    origin_country: optionalNullable(z.string().min(1).max(64).optional().describe('Kept as the item attribute origin_country.')),
    image_url: optionalNullable(z.string().min(1).max(2048).optional().describe('Kept as the item attribute image_url (not fetched).')),
  })
  .describe('One product to classify.');
export type BulkProduct = z.infer<typeof BulkProduct>;

export const ClassifyBulk = z
  .object({
    products: z.array(BulkProduct).min(1).max(MAX_BULK_PRODUCTS).describe(`1..${MAX_BULK_PRODUCTS} products.`),
    callback_url: optionalNullable(CallbackUrl.optional()),
    priority: optionalNullable(z.enum(CLASSIFY_PRIORITIES).default('normal').describe('`express` (and `high`) run as express batches.')),
    corridor: optionalNullable(
      z.string().min(1).max(64).optional().describe('Trade corridor (e.g. MX_US); kept in the batch metadata as corridor.'),
    ),
  })
  .describe('POST /api/v1/classify/bulk: a classify-only batch.');
export type ClassifyBulk = z.infer<typeof ClassifyBulk>;

export const CLASSIFY_JOB_STATUSES = ['queued', 'processing', 'completed', 'partial', 'failed', 'cancelled'] as const;

export const ClassifyJobAccepted = z
  .strictObject({ job_id: Uuid, status: z.literal('queued'), estimated_seconds: z.number().int(), poll_url: z.string() })
  .meta({ id: 'ClassifyJobAccepted', description: 'The classify design’s answer: the job id (a UUID) and where to poll it.' });

export const ProductResult = z.strictObject({
  product_id: z.string(),
  status: z.enum(['pending', 'classified', 'needs_review', 'failed', 'cancelled']),
  hs_code: z.string().nullable(),
  confidence: z.number().nullable(),
  tier: z.string().nullable(),
  cost: z.number().nullable().describe('what deciding this product cost (the tiers consulted)'),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable().describe('why the product failed; null otherwise'),
});

export const ClassifyJob = z
  .strictObject({
    job_id: Uuid,
    status: z.enum(CLASSIFY_JOB_STATUSES),
    total_products: z.number().int(),
    processed_products: z.number().int(),
    needs_review_products: z.number().int(),
    failed_products: z.number().int(),
    progress_percent: z.number(),
    corridor: z.string().nullable(),
    metadata: z
      .strictObject({ cost: z.object({ total: z.number(), by_tier: z.record(z.string(), z.number()) }) })
      .describe('billing: the cost per tier'),
    created_at: Timestamp,
    completed_at: Timestamp.nullable(),
    poll_url: z.string(),
    results: z.array(ProductResult),
    more_results_url: z.string().nullable(),
  })
  .meta({ id: 'ClassifyJob', description: 'A classify job with a result per product (status `partial` when some failed).' });

// --- 001 documents: /batch/jobs -------------------------------------------------------------

/** `priority` at or above this runs as an express batch (1 is the lowest, 10 the highest). */
export const EXPRESS_JOB_PRIORITY = 8;
export const DEFAULT_JOB_PRIORITY = 5;

export const JobDocument = z
  .object({
    filename: z.string().min(1).max(MAX_REF_CHARS).describe("Unique within the job; becomes the item's ref."),
    content: z
      .string()
      .min(1)
      .max(MAX_CONTENT_B64_CHARS)
      .refine((s) => s.length % 4 === 0 && BASE64.test(s), 'must be base64')
      .describe('The document, base64 (10 MiB decoded at most).'),
    metadata: optionalNullable(
      z
        .record(z.string(), z.unknown())
        .optional()
        .describe("Becomes the item's attributes; a string content_type (or mime_type) in it also sets the stored content type."),
    ),
  })
  .describe('One document to ingest (BatchDocument).');
export type JobDocument = z.infer<typeof JobDocument>;

export const CreateBatchJob = z
  .object({
    tenant_id: optionalNullable(
      z
        .string()
        .min(1)
        .max(200)
        .optional()
        .describe("The API key's tenant: its UUID (printed by `npm run keys`) or its name. Another answers 404 Tenant not found."),
    ),
    documents: z.array(JobDocument).min(1).max(MAX_ITEMS).describe('The documents to ingest.'),
    collection: optionalNullable(z.string().min(1).max(255).optional().describe('Kept in the batch metadata as collection.')),
    priority: optionalNullable(
      z
        .int()
        .min(1)
        .max(10)
        .default(DEFAULT_JOB_PRIORITY)
        .describe(`1 (lowest) .. 10 (highest); ${EXPRESS_JOB_PRIORITY} and above run as express batches.`),
    ),
  })
  .describe('POST /batch/jobs (BatchJobCreate): an ingest-only batch.');
export type CreateBatchJob = z.infer<typeof CreateBatchJob>;

export const BATCH_JOB_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const;

export const BatchJob = z
  .strictObject({
    job_id: Uuid,
    tenant_id: Uuid,
    status: z.enum(BATCH_JOB_STATUSES),
    total_documents: z.number().int(),
    processed_count: z.number().int(),
    failed_count: z.number().int(),
    created_at: Timestamp,
    updated_at: Timestamp,
    collection: z.string().nullable(),
    priority: z.number().int(),
  })
  .meta({ id: 'BatchJob', description: 'The document design’s BatchJob, field for field.' });

export const PROGRESS_EVENT_TYPES = ['start', 'progress', 'complete', 'fail', 'cancel'] as const;

export const ProgressEvent = z
  .strictObject({
    job_id: Uuid,
    event_type: z.enum(PROGRESS_EVENT_TYPES),
    document_index: z.number().int().nullable(),
    filename: z.string().nullable(),
    message: z.string().nullable(),
    timestamp: Timestamp,
  })
  .meta({ id: 'ProgressEvent', description: 'The data of every `progress` event of GET /batch/jobs/{job_id}/stream.' });

export const JobCancelled = z.strictObject({ status: z.literal('cancelled') });

// --- 003 part numbers: /api/bulk-*, /api/batches ---------------------------------------------

/** The design's MAX_BULK_SEARCH_SIZE and MAX_BULK_PUBLISH_SIZE. */
export const MAX_PARTS = { search: MAX_ITEMS, publish: 10_000 } as const;
/** The design's check on a part number to search: at most 50 characters. */
export const MAX_PART_NUMBER_CHARS = 50;

export const BulkParts = z
  .object({
    part_numbers: optionalNullable(
      z.array(z.string().max(MAX_REF_CHARS)).max(MAX_ITEMS).optional().describe('Part numbers, one an entry; unique.'),
    ),
    part_numbers_text: optionalNullable(
      z.string().optional().describe('Part numbers in one string, separated by newlines, commas or semicolons.'),
    ),
    idempotency_key: optionalNullable(IdempotencyKey.optional()),
  })
  .describe('POST /api/bulk-search and /api/bulk-publish (BulkSearchRequest, BulkPublishRequest).');
export type BulkParts = z.infer<typeof BulkParts>;

export const PARTS_STATUSES = ['pending', 'processing', 'completed', 'failed', 'cancelled'] as const;

export const ListBatchesOffsetQuery = z
  .object({
    status: z.enum(PARTS_STATUSES).optional().describe('Only batches in this status.'),
    limit: z.coerce.number().int().min(1).max(100).default(50).describe('Page size, 1..100.'),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0).describe('Batches to skip, newest first.'),
  })
  .describe('GET /api/batches: offset paging over the tenant batches.');
export type ListBatchesOffsetQuery = z.infer<typeof ListBatchesOffsetQuery>;

export const BulkOperationResponse = z
  .strictObject({
    batch_id: z.string(),
    total_items: z.number().int(),
    status: z.string(),
    message: z.string(),
    idempotency_key: z.string().nullable(),
  })
  .meta({ id: 'BulkOperationResponse' });

export const FailedItem = z.strictObject({ part_number: z.string(), error: z.string(), timestamp: Timestamp.nullable() });

export const BatchStatusResponse = z
  .strictObject({
    id: z.string(),
    batch_type: z.enum(['search', 'publish']),
    status: z.enum(PARTS_STATUSES),
    total_items: z.number().int(),
    extracted_count: z.number().int(),
    normalized_count: z.number().int(),
    published_count: z.number().int(),
    failed_count: z.number().int(),
    progress_percent: z.number(),
    failed_items: z.array(FailedItem).nullable(),
    error_message: z.string().nullable(),
    idempotency_key: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: Timestamp.nullable(),
  })
  .meta({ id: 'BatchStatusResponse' });

export const BatchListResponse = z
  .strictObject({ batches: z.array(BatchStatusResponse), total: z.number().int() })
  .meta({ id: 'BatchListResponse' });

export const CancelInitiated = z.strictObject({ message: z.string(), batch_id: z.string() });

/** FastAPI's error body, which the document and part-number designs' clients read: `detail`. */
export const FastApiDetail = z.object({
  detail: z.union([z.string(), z.array(z.object({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string(), type: z.string() }))]),
});
