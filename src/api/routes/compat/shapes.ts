/**
 * The answers of the compatibility routes, in each original design's vocabulary, made from the
 * contract's batch body (GET /v1/batches/{id}) and item results. Pure functions: no I/O here.
 */
import type { BatchStatus, ItemStatus } from '../../../contracts/workflow';
import type { BatchBody } from '../../../batches/view';

/** An item result as BatchService.items answers it. */
export interface ItemResult {
  ref: string;
  status: ItemStatus;
  stage: string | null;
  classification: { label: string; confidence: number; tier: string } | null;
  error: { code: string; message: string } | null;
}

const finishedItems = (b: BatchBody): number => b.total_items - b.counts.pending;
const itemError = (e: ItemResult['error']): { code: string; message: string } | null => (e ? { code: e.code, message: e.message } : null);

// --- classify design: POST /api/v1/classify/bulk, GET /api/v1/jobs/{job_id} ------------------

/** The classify design reports a job as queued, processing or one of its four endings. */
const CLASSIFY_JOB_STATUS: Record<BatchStatus, string> = {
  queued: 'queued',
  running: 'processing',
  paused: 'processing',
  cancelling: 'processing',
  completed: 'completed',
  partial: 'partial',
  failed: 'failed',
  cancelled: 'cancelled',
};

const PRODUCT_STATUS: Record<ItemStatus, string> = {
  pending: 'pending',
  succeeded: 'classified',
  needs_review: 'needs_review',
  failed: 'failed',
  cancelled: 'cancelled',
  // Not reachable in a classify-only batch (nothing is staged or published to undo).
  compensated: 'cancelled',
  orphaned: 'failed',
};

export const classifyJobStatus = (s: BatchStatus): string => CLASSIFY_JOB_STATUS[s];

export interface ProductResult {
  product_id: string;
  status: string;
  hs_code: string | null;
  confidence: number | null;
  tier: string | null;
  error: { code: string; message: string } | null;
}

export function toProductResult(item: ItemResult): ProductResult {
  return {
    product_id: item.ref,
    status: PRODUCT_STATUS[item.status],
    hs_code: item.classification?.label ?? null,
    confidence: item.classification?.confidence ?? null,
    tier: item.classification?.tier ?? null,
    error: itemError(item.error),
  };
}

export function toClassifyJob(b: BatchBody, items: ItemResult[], moreResultsUrl: string | null) {
  return {
    job_id: b.batch_id,
    status: classifyJobStatus(b.status),
    total_products: b.total_items,
    processed_products: finishedItems(b),
    needs_review_products: b.counts.needs_review,
    failed_products: b.counts.failed,
    progress_percent: b.progress_percent,
    corridor: typeof b.metadata.corridor === 'string' ? b.metadata.corridor : null,
    created_at: b.created_at,
    completed_at: b.completed_at,
    results: items.map(toProductResult),
    more_results_url: moreResultsUrl,
  };
}

// --- document design: /batch/jobs ----------------------------------------------------------

/**
 * The document design's job statuses. `partial` (some documents failed) reads as `completed`:
 * the job ran to its end, and `failed_documents` and `errors` say what did not make it.
 */
const BATCH_JOB_STATUS: Record<BatchStatus, string> = {
  queued: 'pending',
  running: 'processing',
  paused: 'paused',
  cancelling: 'cancelling',
  completed: 'completed',
  partial: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** The job statuses after which a job changes no more (the stream closes on them). */
export const FINAL_BATCH_JOB_STATUSES = ['completed', 'failed', 'cancelled'];

export interface BatchJob {
  id: string;
  tenant_id: string;
  collection: string | null;
  status: string;
  priority: number;
  total_documents: number;
  processed_documents: number;
  failed_documents: number;
  progress: number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  errors: Array<{ filename: string; code: string; message: string }>;
}

/** The numeric priority the job was submitted with; a batch submitted another way reads as 10 or 5. */
const jobPriority = (b: BatchBody): number => (typeof b.metadata.job_priority === 'number' ? b.metadata.job_priority : b.priority === 'express' ? 10 : 5);

/**
 * `now` stands in for `updated_at` while the job runs: its progress is live, read at this moment.
 */
export function toBatchJob(b: BatchBody, tenantId: string, failed: ItemResult[], now: Date): BatchJob {
  return {
    id: b.batch_id,
    tenant_id: tenantId,
    collection: typeof b.metadata.collection === 'string' ? b.metadata.collection : null,
    status: BATCH_JOB_STATUS[b.status],
    priority: jobPriority(b),
    total_documents: b.total_items,
    processed_documents: finishedItems(b),
    failed_documents: b.counts.failed,
    progress: b.progress_percent,
    created_at: b.created_at,
    updated_at: b.completed_at ?? now.toISOString(),
    completed_at: b.completed_at,
    errors: failed.map((i) => ({ filename: i.ref, code: i.error?.code ?? 'failed', message: i.error?.message ?? '' })),
  };
}

// --- part-number design: /api/bulk-*, /api/batches -------------------------------------------

/** What a part-number batch does, from its stages. */
export function operationOf(b: BatchBody): string {
  const stages = (b.options.stages as string[] | undefined) ?? [];
  if (stages.join(',') === 'classify') return 'search';
  if (stages.join(',') === 'classify,publish') return 'publish';
  return stages.join('+');
}

/** The part-number design keeps the contract's batch statuses as they are. */
export function toPartsBatch(b: BatchBody) {
  return {
    batch_id: b.batch_id,
    operation: operationOf(b),
    status: b.status,
    total_items: b.total_items,
    processed_items: finishedItems(b),
    failed_count: b.counts.failed,
    progress_percent: b.progress_percent,
    counts: b.counts,
    created_at: b.created_at,
    started_at: b.started_at,
    completed_at: b.completed_at,
  };
}

export function toPartsBatchDetail(b: BatchBody, failed: ItemResult[]) {
  return {
    ...toPartsBatch(b),
    failed_items: failed.map((i) => ({ part_number: i.ref, stage: i.stage, error: itemError(i.error) })),
  };
}

export function toBulkAccepted(b: BatchBody, operation: 'search' | 'publish', replayed: boolean, idempotencyKey: string | undefined) {
  const what = operation === 'search' ? 'Bulk search' : 'Bulk publish';
  return {
    batch_id: b.batch_id,
    total_items: b.total_items,
    status: b.status,
    message: replayed
      ? `${what} already submitted with this idempotency key: batch ${b.batch_id}`
      : `${what} of ${b.total_items} part number${b.total_items === 1 ? '' : 's'} queued as batch ${b.batch_id}`,
    idempotency_key: idempotencyKey ?? null,
  };
}
