/**
 * Requests of the compatibility routes (shared/API.md "Compatibility routes"): the shapes that
 * clients written for the original designs send. Each is translated into an ordinary submission
 * (src/api/routes/compat/), so these schemas check only what the translation needs.
 *
 * Unlike /v1, unknown fields are ignored rather than refused: these clients were written against
 * designs we only know by their field lists, and may send fields of those designs we do not use.
 */
import { z } from 'zod';
import { BATCH_STATUSES } from './workflow';
import { MAX_CONTENT_B64_CHARS, MAX_ITEMS, MAX_REF_CHARS, MAX_TEXT_CHARS } from './http';

/** The classify design's ceiling on one bulk request. */
export const MAX_BULK_PRODUCTS = 500;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CallbackUrl = z.url({ protocol: /^https?$/ }).max(2048).describe('POSTed the completion webhook when the job finishes (http or https).');
const IdempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1..255 printable ASCII characters')
  .describe('Same key and same body: the same batch again (200). Same key, different body: 422.');

// --- POST /api/v1/classify/bulk -------------------------------------------------------------

/** Priorities of the classify design; `high` and `express` run as express batches. */
export const CLASSIFY_PRIORITIES = ['low', 'normal', 'high', 'express'] as const;

export const BulkProduct = z
  .object({
    product_id: z.string().min(1).max(MAX_REF_CHARS).describe("The client's id of the product; unique within the request. Becomes the item's ref."),
    description: z.string().min(1).max(MAX_TEXT_CHARS).describe('What is classified: becomes the item text.'),
    origin_country: z.string().min(1).max(64).optional().describe('Kept as the item attribute origin_country.'),
    image_url: z.string().min(1).max(2048).optional().describe('Kept as the item attribute image_url (not fetched).'),
  })
  .describe('One product to classify.');
export type BulkProduct = z.infer<typeof BulkProduct>;

export const ClassifyBulk = z
  .object({
    products: z.array(BulkProduct).min(1).max(MAX_BULK_PRODUCTS).describe(`1..${MAX_BULK_PRODUCTS} products.`),
    callback_url: CallbackUrl.optional(),
    priority: z.enum(CLASSIFY_PRIORITIES).default('normal').describe('`high` and `express` run as express batches; `low` and `normal` as normal ones.'),
    corridor: z.string().min(1).max(64).optional().describe('Trade corridor (e.g. MX_US); kept in the batch metadata as corridor.'),
  })
  .describe('POST /api/v1/classify/bulk: a classify-only batch.');
export type ClassifyBulk = z.infer<typeof ClassifyBulk>;

// --- POST /batch/jobs -----------------------------------------------------------------------

/** `priority` at or above this runs as an express batch (1 is the lowest, 10 the highest). */
export const EXPRESS_JOB_PRIORITY = 8;

export const JobDocument = z
  .object({
    filename: z.string().min(1).max(MAX_REF_CHARS).describe("Unique within the job; becomes the item's ref."),
    content: z
      .string()
      .min(1)
      .max(MAX_CONTENT_B64_CHARS)
      .refine((s) => s.length % 4 === 0 && BASE64.test(s), 'must be base64')
      .describe('The document, base64 (10 MiB decoded at most).'),
    metadata: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("Becomes the item's attributes; a string content_type (or mime_type) in it also sets the stored content type."),
  })
  .describe('One document to ingest.');
export type JobDocument = z.infer<typeof JobDocument>;

export const CreateBatchJob = z
  .object({
    tenant_id: z.string().min(1).max(200).optional().describe("Must be the API key's tenant when given (else 400)."),
    documents: z.array(JobDocument).min(1).max(MAX_ITEMS).describe('The documents to ingest.'),
    collection: z.string().min(1).max(200).optional().describe('Kept in the batch metadata as collection.'),
    priority: z.int().min(1).max(10).default(5).describe(`1 (lowest) .. 10 (highest); ${EXPRESS_JOB_PRIORITY} and above run as express batches.`),
  })
  .describe('POST /batch/jobs: an ingest-only batch.');
export type CreateBatchJob = z.infer<typeof CreateBatchJob>;

// --- POST /api/bulk-search, /api/bulk-publish -----------------------------------------------

export const BulkParts = z
  .object({
    part_numbers: z.array(z.string().trim().min(1).max(MAX_REF_CHARS)).min(1).max(MAX_ITEMS).optional().describe('Part numbers, one an entry; unique.'),
    part_numbers_text: z.string().min(1).optional().describe('Part numbers in one string, separated by newlines, commas, semicolons or tabs.'),
    idempotency_key: IdempotencyKey.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.part_numbers !== undefined && body.part_numbers_text !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['part_numbers_text'], message: 'give part_numbers or part_numbers_text, not both' });
    } else if (body.part_numbers === undefined && body.part_numbers_text === undefined) {
      ctx.addIssue({ code: 'custom', path: ['part_numbers'], message: 'required (or part_numbers_text)' });
    }
  })
  .describe('POST /api/bulk-search and /api/bulk-publish.');
export type BulkParts = z.infer<typeof BulkParts>;

export const ListBatchesOffsetQuery = z
  .object({
    status: z.enum(BATCH_STATUSES).optional().describe('Only batches in this status.'),
    limit: z.coerce.number().int().min(1).max(100).default(50).describe('Page size, 1..100.'),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0).describe('Batches to skip, newest first.'),
  })
  .describe('GET /api/batches: offset paging over the tenant batches.');
export type ListBatchesOffsetQuery = z.infer<typeof ListBatchesOffsetQuery>;
