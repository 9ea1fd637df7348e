/**
 * Messages between the API, the batch workflow and its activities.
 *
 * This module is imported by workflow code, so it must stay free of runtime dependencies:
 * plain constants and types only (no zod, no Node built-ins).
 */

export const STAGES = ['classify', 'ingest', 'publish'] as const;
export type Stage = (typeof STAGES)[number];

export const BATCH_STATUSES = ['queued', 'running', 'paused', 'cancelling', 'completed', 'partial', 'failed', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = ['completed', 'partial', 'failed', 'cancelled'];
export const isTerminal = (status: BatchStatus): boolean => TERMINAL_BATCH_STATUSES.includes(status);

export const ITEM_STATUSES = ['pending', 'succeeded', 'failed', 'needs_review', 'compensated', 'cancelled', 'orphaned'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

export const PRIORITIES = ['normal', 'express'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const ON_CANCEL = ['keep', 'rollback'] as const;
export type OnCancel = (typeof ON_CANCEL)[number];

/** The per-batch tallies that the contract reports in `counts`. */
export interface Counts {
  pending: number;
  classified: number;
  ingested: number;
  published: number;
  failed: number;
  needs_review: number;
  compensated: number;
  cancelled: number;
  orphaned: number;
}

export const emptyCounts = (pending = 0): Counts => ({
  pending,
  classified: 0,
  ingested: 0,
  published: 0,
  failed: 0,
  needs_review: 0,
  compensated: 0,
  cancelled: 0,
  orphaned: 0,
});

/** What classification cost: the sum over items, and how many items each tier decided. */
export interface Cost {
  total: number;
  by_tier: Record<string, number>;
}

export const emptyCost = (): Cost => ({ total: 0, by_tier: {} });

/** Retry policy of one stage, in the shape config and workflow share (durations in ms). */
export interface StageRetry {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
  /** How long one chunk may take at this stage before Temporal retries it elsewhere. */
  startToCloseTimeoutMs: number;
  /** A worker that stops heartbeating for this long is presumed dead; also bounds cancel latency. */
  heartbeatTimeoutMs: number;
}

export type RetryPolicies = Record<Stage, StageRetry>;

/** The options a batch runs with, after defaults are applied. */
export interface BatchOptions {
  stages: Stage[];
  chunkSize: number;
  maxParallelChunks: number;
  priority: Priority;
  onCancel: OnCancel;
  maxFailureRatio: number;
}

/** A half-open range of item sequence numbers, `[from, to)`: the claim check for a chunk. */
export interface ItemRange {
  from: number;
  to: number;
}

/**
 * Input of `batchWorkflow`. References only: the items stay in the database and travel as ranges,
 * so a 50,000-item batch is a few hundred bytes of workflow input.
 */
export interface BatchWorkflowInput {
  batchId: string;
  tenantId: string;
  totalItems: number;
  options: BatchOptions;
  retry: RetryPolicies;
  /** Present when the run continues an earlier one (continue-as-new). */
  carried?: CarriedState;
  /** A run hands over to a new one past this many history events (default 5,000); tests lower it. */
  historyLimit?: number;
  /** A new run of a finished batch that runs its failed items again (redrive). */
  redriveFinished?: boolean;
  /** With redriveFinished: run only items already put back in line (a resolved review), not the failed ones. */
  keepFailed?: boolean;
  /** The batch has a callback_url: each run that finishes starts a completion webhook delivery. */
  webhook?: boolean;
}

/** What one run hands to the next at continue-as-new: bounded, whatever the batch size. */
export interface CarriedState {
  nextChunk: number;
  counts: Counts;
  startedAtMs: number;
  paused: boolean;
  maxParallelChunks: number;
  maxFailureRatio: number;
  /** `external`: the cancel came from Temporal (UI/CLI), so the run ends as Canceled. */
  cancelRequested: { rollback: boolean; external?: boolean } | null;
  runs: number;
  /** Absent in runs recorded before the saga existed: read as 'run'. */
  phase?: 'run' | 'compensate';
  failureRatioExceeded?: boolean;
  /** Chunks to run again (redrive), in order. Bounded by the chunk count. */
  redrive?: number[];
  /** During the compensate phase: what to undo, and the next chunk (counting down). */
  compensation?: { scope: 'unfinished' | 'all'; next: number };
  /** Absent in runs from before cost was tracked. */
  cost?: Cost;
}

export const PAUSE_SIGNAL = 'pause';
export const RESUME_SIGNAL = 'resume';
export const CONFIGURE_UPDATE = 'configure';
export const RETRY_FAILED_UPDATE = 'retryFailed';
export const REVIEWED_UPDATE = 'reviewed';

/** PATCH /v1/batches/{id}: what may change while a batch runs. */
export interface ConfigurePatch {
  max_parallel_chunks?: number;
  max_failure_ratio?: number;
}
export interface ConfigureResult {
  max_parallel_chunks: number;
  max_failure_ratio: number;
}

export interface RetryFailedResult {
  retried: number;
  chunks: number;
}

/** What `resetFailed` did: failed items put back to pending, and where they are. */
export interface ResetOutcome {
  items: number;
  chunks: number[];
}

export interface StageInput {
  batchId: string;
  tenantId: string;
  stage: Stage;
  /** The stage before this one in the batch's own stage list, or null for the first. */
  previousStage: Stage | null;
  /** Whether this is the batch's last stage: its successes finish the item. */
  lastStage: boolean;
  range: ItemRange;
  chunkIndex: number;
  chunkCount: number;
  /** Which dispatch of this stage for this chunk (1 = first): items failing transiently come back. */
  attempt: number;
  /** At this attempt a transient failure is final: the item fails, `retryable: true`. */
  maxAttempts: number;
}

/** What one stage did for one chunk: tallies only, so history does not grow with chunk size. */
export interface StageOutcome {
  /** Items that completed this stage. */
  succeeded: number;
  /** Items that failed permanently at this stage. */
  failed: number;
  /** Items parked for human review (classify only). */
  needsReview: number;
  /** Items this call skipped because an earlier run of it already recorded them. */
  alreadyDone: number;
  /** Classification cost of the chunk's items (classify only); cumulative like the tallies. */
  cost?: Cost;
  /** The same tallies as they stood before this call touched anything (a redrive's baseline). */
  before?: { succeeded: number; failed: number; needsReview: number; cost?: Cost };
  /** Items that failed transiently and are still open: dispatch again after `retryAfterMs` at least. */
  transient: number;
  retryAfterMs: number;
}

/** What to undo in a chunk. */
export type CompensationScope =
  /** Items that failed at a later stage: undo their earlier effects; they stay `failed`. */
  | 'failed'
  /** Cancel with keep: items caught mid-pipeline are undone (`compensated`); finished ones stay. */
  | 'unfinished'
  /** Rollback: every effect of the chunk is undone. */
  | 'all';

export interface CompensateInput {
  batchId: string;
  tenantId: string;
  range: ItemRange;
  scope: CompensationScope;
  /** At this activity attempt, an undo that still fails transiently leaves the item `orphaned`. */
  maxAttempts: number;
}

export interface CompensateOutcome {
  /** Items whose effects were undone. */
  undone: number;
  /** Items whose undo failed for good: reported `orphaned` with the remote id. */
  orphaned: number;
}

export interface BatchSummary {
  batchId: string;
  status: BatchStatus;
  counts: Counts;
  rolledBack: boolean;
  cost?: Cost;
}

/** Answer of the `progress` query, in the contract's field names. */
export interface Progress {
  status: BatchStatus;
  total_items: number;
  counts: Counts;
  progress_percent: number;
  stage: Stage | null;
  eta_seconds: number | null;
  items_per_second: number;
  chunks: { total: number; done: number; in_flight: number };
  max_parallel_chunks: number;
  max_failure_ratio: number;
  rolled_back: boolean;
  started_at: string | null;
  cost: Cost;
}

export interface CancelSignal {
  rollback?: boolean;
}

/** Names that the API uses to reach the workflow without importing workflow code. */
export const BATCH_WORKFLOW_TYPE = 'batchWorkflow';
export const CANCEL_SIGNAL = 'cancel';
export const PROGRESS_QUERY = 'progress';
export const workflowIdFor = (batchId: string): string => `batch-${batchId}`;
