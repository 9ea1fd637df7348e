/**
 * The contract's response bodies as zod schemas. They feed the OpenAPI document, and the API tests
 * parse real answers with them, so the published document cannot drift from what the server says.
 */
import { z } from 'zod';
import { BATCH_STATUSES, ITEM_STATUSES, STAGES } from './workflow';

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'validation_failed' }),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), issue: z.string() })).optional(),
      request_id: z.string(),
      retry_after: z.number().int().optional().describe('seconds; on 429 answers'),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answers with this shape.' });

export const Counts = z
  .object({
    pending: z.number().int(),
    classified: z.number().int(),
    ingested: z.number().int(),
    published: z.number().int(),
    failed: z.number().int(),
    needs_review: z.number().int(),
    compensated: z.number().int(),
    cancelled: z.number().int(),
    orphaned: z.number().int(),
  })
  .meta({ id: 'Counts' });

export const Cost = z
  .object({ total: z.number(), by_tier: z.record(z.string(), z.number()) })
  .meta({ id: 'Cost', description: 'What the classify tiers cost so far, in the billing currency; by_tier counts decisions.' });

export const WebhookStatus = z
  .object({
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
  })
  .meta({ id: 'WebhookStatus' });

export const Batch = z
  .object({
    batch_id: z.string().meta({ example: 'b_01JC6Q0Z8T5J4W5V8M9N2K3P4R' }),
    status: z.enum(BATCH_STATUSES),
    total_items: z.number().int(),
    counts: Counts,
    progress_percent: z.number(),
    stage: z.enum(STAGES).nullable(),
    eta_seconds: z.number().nullable(),
    items_per_second: z.number(),
    cost: Cost,
    rolled_back: z.boolean(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    priority: z.string(),
    options: z.record(z.string(), z.unknown()).describe('the options in force (PATCH changes max_parallel_chunks and max_failure_ratio)'),
    metadata: z.record(z.string(), z.unknown()),
    stale: z.boolean().optional().describe('queued or running for longer than the stale age'),
    webhook: WebhookStatus.nullable().optional().describe('the completion webhook delivery; null without callback_url'),
    created_at: z.iso.datetime(),
    started_at: z.iso.datetime().nullable(),
    completed_at: z.iso.datetime().nullable(),
    updated_at: z.iso.datetime().describe("when the batch's row last changed (its status, or a snapshot of its counts)"),
    idempotency_key: z.string().nullable().describe('the Idempotency-Key it was submitted with'),
    workflow_id: z.string(),
    temporal_ui_url: z.url(),
    // Always present (never omitted), so a client can tell a snapshot from a row without guessing.
    progress_as_of: z.iso
      .datetime()
      .nullable()
      .describe(
        "when the workflow answered the progress shown: reads share one poll of the workflow per batch, at most every PROGRESS_POLL_MS; a control call's answer is a fresh query's. null when the body comes from the database (a finished batch, a listing, a submit's answer, or no answer yet)",
      ),
  })
  .meta({ id: 'Batch' });

export const Submitted = Batch.extend({
  poll_url: z.string(),
  events_url: z.string(),
  estimated_seconds: z.number().int(),
}).meta({ id: 'SubmittedBatch' });

export const BatchList = z.object({ batches: z.array(Batch), next_cursor: z.string().nullable() }).meta({ id: 'BatchList' });

export const ItemResult = z
  .object({
    ref: z.string(),
    status: z.enum(ITEM_STATUSES),
    stage: z.string().nullable(),
    classification: z.looseObject({ label: z.string(), confidence: z.number(), tier: z.string() }).nullable(),
    published_id: z.string().nullable(),
    error: z.looseObject({ code: z.string(), message: z.string(), retryable: z.boolean(), attempts: z.number().int() }).nullable(),
  })
  .meta({ id: 'ItemResult' });

export const ItemPage = z.object({ items: z.array(ItemResult), next_cursor: z.string().nullable() }).meta({ id: 'ItemPage' });

export const CancelledList = z.object({ cancelled: z.array(z.string()) });

export const RetryFailedResult = z.object({
  retried: z.number().int(),
  chunks: z.number().int(),
  batch_id: z.string(),
  status: z.enum(BATCH_STATUSES),
});

export const ReviewPage = z.object({
  items: z.array(
    z.object({
      batch_id: z.string(),
      ref: z.string(),
      text: z.string().nullable(),
      suggestion: z.object({ label: z.string(), confidence: z.number() }).nullable(),
      /** The best guess, then the core tier's next best headings by confidence: at most 3. */
      suggestions: z.array(z.object({ label: z.string(), confidence: z.number() })),
    }),
  ),
  next_cursor: z.string().nullable(),
});

export const ReviewResolved = z.object({
  batch_id: z.string(),
  ref: z.string(),
  label: z.string(),
  status: z.enum(['pending', 'succeeded']),
});

export const CatalogPage = z.object({ items: z.array(z.record(z.string(), z.unknown())), next_cursor: z.string().nullable() });
