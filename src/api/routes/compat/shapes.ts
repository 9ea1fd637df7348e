/**
 * The answers of the compatibility routes, in each original design's own models (the schemas in
 * src/contracts/compat.ts), made from the contract's batch body and item results. Pure functions:
 * no I/O here.
 */
import type { z } from 'zod';
import type * as compat from '../../../contracts/compat';
import type { BatchStatus, ItemStatus } from '../../../contracts/workflow';
import type { BatchBody } from '../../../batches/view';
import { batchUuid, tenantUuid } from '../../../batches/ids';

/** An item result as Batches.items (src/batches/read.ts) answers it. */
export interface ItemResult {
  ref: string;
  status: ItemStatus;
  stage: string | null;
  classification: { label: string; confidence: number; tier: string; cost?: number } | null;
  error: { code: string; message: string } | null;
}

/** Items that ended without success: whatever is neither pending nor done. */
const unsuccessful = (b: BatchBody): number =>
  b.counts.failed + b.counts.needs_review + b.counts.compensated + b.counts.cancelled + b.counts.orphaned;
const succeeded = (b: BatchBody): number => b.total_items - b.counts.pending - unsuccessful(b);
/** While a batch runs its row is behind its live progress: the moment of this answer stands in. */
const updatedAt = (b: BatchBody, now: Date): string => b.completed_at ?? (b.status === 'queued' ? b.updated_at : now.toISOString());

// --- 000 classify ---------------------------------------------------------------------------

const CLASSIFY_JOB_STATUS: Record<BatchStatus, (typeof compat.CLASSIFY_JOB_STATUSES)[number]> = {
  queued: 'queued',
  running: 'processing',
  paused: 'processing',
  cancelling: 'processing',
  completed: 'completed',
  partial: 'partial',
  failed: 'failed',
  cancelled: 'cancelled',
};

const PRODUCT_STATUS: Record<ItemStatus, z.infer<typeof compat.ProductResult>['status']> = {
  pending: 'pending',
  succeeded: 'classified',
  needs_review: 'needs_review',
  failed: 'failed',
  cancelled: 'cancelled',
  // Not reachable in a classify-only batch (nothing is staged or published to undo).
  compensated: 'cancelled',
  orphaned: 'failed',
};

export const classifyJobStatus = (s: BatchStatus) => CLASSIFY_JOB_STATUS[s];
export const classifyPollUrl = (batchId: string): string => `/api/v1/jobs/${batchUuid(batchId)}`;

export function toProductResult(item: ItemResult): z.infer<typeof compat.ProductResult> {
  return {
    product_id: item.ref,
    status: PRODUCT_STATUS[item.status],
    hs_code: item.classification?.label ?? null,
    confidence: item.classification?.confidence ?? null,
    tier: item.classification?.tier ?? null,
    cost: item.classification?.cost ?? null,
    error: item.error ? { code: item.error.code, message: item.error.message } : null,
  };
}

export function toClassifyJob(b: BatchBody, items: ItemResult[], moreResultsUrl: string | null): z.infer<typeof compat.ClassifyJob> {
  return {
    job_id: batchUuid(b.batch_id),
    status: classifyJobStatus(b.status),
    total_products: b.total_items,
    processed_products: b.total_items - b.counts.pending,
    needs_review_products: b.counts.needs_review,
    failed_products: b.counts.failed,
    progress_percent: b.progress_percent,
    corridor: typeof b.metadata.corridor === 'string' ? b.metadata.corridor : null,
    metadata: { cost: b.cost },
    created_at: b.created_at,
    completed_at: b.completed_at,
    poll_url: classifyPollUrl(b.batch_id),
    results: items.map(toProductResult),
    more_results_url: moreResultsUrl,
  };
}

// --- 001 documents --------------------------------------------------------------------------

/**
 * The document design's five statuses. Its worker ends a job `completed` when no document failed
 * and `failed` otherwise, so a partial batch reads as failed; paused and cancelling are still
 * processing.
 */
const BATCH_JOB_STATUS: Record<BatchStatus, (typeof compat.BATCH_JOB_STATUSES)[number]> = {
  queued: 'pending',
  running: 'processing',
  paused: 'processing',
  cancelling: 'processing',
  completed: 'completed',
  partial: 'failed',
  failed: 'failed',
  cancelled: 'cancelled',
};

export const batchJobStatus = (s: BatchStatus) => BATCH_JOB_STATUS[s];

/** The numeric priority the job was submitted with; a batch submitted another way reads as 10 or 5. */
const jobPriority = (b: BatchBody): number =>
  typeof b.metadata.job_priority === 'number' ? b.metadata.job_priority : b.priority === 'express' ? 10 : 5;

export function toBatchJob(b: BatchBody, tenantId: string, now: Date): z.infer<typeof compat.BatchJob> {
  return {
    job_id: batchUuid(b.batch_id),
    tenant_id: tenantUuid(tenantId),
    status: batchJobStatus(b.status),
    total_documents: b.total_items,
    // The design's worker counts a document processed when it was ingested, failed when not.
    processed_count: succeeded(b),
    failed_count: unsuccessful(b) - b.counts.cancelled - b.counts.compensated,
    created_at: b.created_at,
    updated_at: updatedAt(b, now),
    collection: typeof b.metadata.collection === 'string' ? b.metadata.collection : null,
    priority: jobPriority(b),
  };
}

// --- 003 part numbers -----------------------------------------------------------------------

/** The part-number design's five statuses: its batches complete when every item is done or failed. */
const PARTS_STATUS: Record<BatchStatus, (typeof compat.PARTS_STATUSES)[number]> = {
  queued: 'pending',
  running: 'processing',
  paused: 'processing',
  cancelling: 'processing',
  completed: 'completed',
  partial: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

export const partsStatus = (s: BatchStatus) => PARTS_STATUS[s];

/** The batch statuses each design status stands for, for `GET /api/batches?status=`. */
export const batchStatusesOf = (s: (typeof compat.PARTS_STATUSES)[number]): BatchStatus[] =>
  (Object.keys(PARTS_STATUS) as BatchStatus[]).filter((b) => PARTS_STATUS[b] === s);

/** A search batch classifies; a publish batch classifies and publishes. */
export const batchTypeOf = (b: BatchBody): 'search' | 'publish' =>
  (b.options.stages as string[] | undefined)?.includes('publish') ? 'publish' : 'search';

export function toPartsBatch(b: BatchBody, failed: ItemResult[] | null, now: Date): z.infer<typeof compat.BatchStatusResponse> {
  const passedClassify = b.counts.classified;
  return {
    id: b.batch_id,
    batch_type: batchTypeOf(b),
    status: partsStatus(b.status),
    total_items: b.total_items,
    // The design fetches (extracts) and normalizes each part number; here both are the classify stage.
    extracted_count: passedClassify,
    normalized_count: passedClassify,
    published_count: b.counts.published,
    failed_count: b.counts.failed + b.counts.orphaned,
    progress_percent: Math.round(((b.total_items - b.counts.pending) / b.total_items) * 10_000) / 100,
    failed_items: failed
      ? failed.map((i) => ({ part_number: i.ref, error: i.error ? `${i.error.code}: ${i.error.message}` : 'failed', timestamp: null }))
      : null,
    error_message: b.error?.message ?? null,
    idempotency_key: b.idempotency_key,
    created_at: b.created_at,
    updated_at: updatedAt(b, now),
    completed_at: b.completed_at,
  };
}

export function toBulkAccepted(
  b: BatchBody,
  operation: 'search' | 'publish',
  replayed: boolean,
  idempotencyKey: string | undefined,
): z.infer<typeof compat.BulkOperationResponse> {
  const n = b.total_items;
  return {
    batch_id: b.batch_id,
    total_items: n,
    // As the design answers: a new batch is `processing` at once; a replay says where it is.
    status: replayed ? partsStatus(b.status) : 'processing',
    message: replayed
      ? 'Returning existing batch (idempotent request)'
      : operation === 'search'
        ? `Bulk search started. Processing ${n} part numbers.`
        : `Bulk publish started. Publishing ${n} products.`,
    idempotency_key: idempotencyKey ?? null,
  };
}
