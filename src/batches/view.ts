/** The contract's batch body, from the database row and, while the batch runs, its live progress. */
import type { BatchOptions, BatchStatus, Cost, Counts, Progress } from '../contracts/workflow';
import { batchOptionsOf, type BatchRow } from '../db/schema';
import type { ItemView } from '../db/item-pages';
import { DEFAULT_STALE_AFTER_MS, isStale } from '../db/retention';

export interface BatchBody {
  batch_id: string;
  status: BatchStatus;
  total_items: number;
  counts: Counts;
  progress_percent: number;
  stage: string | null;
  eta_seconds: number | null;
  items_per_second: number;
  cost: Cost;
  rolled_back: boolean;
  error: { code: string; message: string } | null;
  priority: string;
  options: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** Queued or running for longer than the stale age (STALE_BATCH_MINUTES): reported, never failed for it. */
  stale: boolean;
  /** The completion webhook's latest delivery; null without a callback_url. */
  webhook: { status: 'pending' | 'delivered' | 'failed'; attempts: number; last_error: string | null } | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  updated_at: string;
  idempotency_key: string | null;
  workflow_id: string;
  temporal_ui_url: string;
  /** When the workflow gave the progress shown (its query's answer); null when it comes from the row. */
  progress_as_of: string | null;
}

/** One item result as the contract shows it (GET …/items, and the live `item_failed` events). */
export const itemBody = (i: ItemView) => ({
  ref: i.ref,
  status: i.status,
  stage: i.stage,
  classification: i.classification,
  published_id: i.published_id,
  error: i.error,
});

export const temporalUiUrl = (base: string, namespace: string, workflowId: string): string =>
  `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;

/** `ui` says how to present a batch: the Temporal UI's base and namespace, and the stale age (default 120 minutes). */
export function toBatchBody(
  row: BatchRow,
  live: Progress | null,
  ui: { base: string; namespace: string; staleAfterMs?: number },
  /** When `live` was answered (epoch ms); a fresh query's answer is as of now. */
  liveAt: number | null = live ? Date.now() : null,
): BatchBody {
  const status = live?.status ?? row.status;
  const counts = live?.counts ?? row.counts;
  const finished = row.total_items - counts.pending;
  const started = row.started_at ?? (live?.started_at ? new Date(live.started_at) : null);
  const elapsed = started && row.completed_at ? (row.completed_at.getTime() - started.getTime()) / 1000 : 0;
  return {
    batch_id: row.id,
    status,
    total_items: row.total_items,
    counts,
    progress_percent: live?.progress_percent ?? Math.round((finished / row.total_items) * 1000) / 10,
    stage: live?.stage ?? null,
    eta_seconds: live ? live.eta_seconds : counts.pending === 0 ? 0 : null,
    items_per_second: live?.items_per_second ?? (elapsed > 0 ? Math.round((finished / elapsed) * 10) / 10 : 0),
    cost: live?.cost ?? row.cost ?? { total: 0, by_tier: {} },
    // The live answer: a batch that has just finished says so before its row has caught up.
    rolled_back: live?.rolled_back ?? row.rolled_back,
    error: row.error,
    priority: row.priority,
    options: optionsBody(batchOptionsOf(row), row.callback_url, live),
    metadata: row.metadata,
    stale: isStale(status, row.created_at, ui.staleAfterMs ?? DEFAULT_STALE_AFTER_MS),
    webhook: row.callback_url
      ? { status: row.webhook_status ?? 'pending', attempts: row.webhook_attempts ?? 0, last_error: row.webhook_last_error ?? null }
      : null,
    created_at: row.created_at.toISOString(),
    started_at: started ? started.toISOString() : null,
    completed_at: row.completed_at ? row.completed_at.toISOString() : null,
    updated_at: new Date(row.updated_at).toISOString(),
    idempotency_key: row.idempotency_key,
    workflow_id: row.workflow_id,
    temporal_ui_url: temporalUiUrl(ui.base, ui.namespace, row.workflow_id),
    progress_as_of: live && liveAt !== null ? new Date(liveAt).toISOString() : null,
  };
}

/** The options in the contract's snake_case names. */
function optionsBody(o: BatchOptions, callbackUrl: string | null, live: Progress | null): Record<string, unknown> {
  return {
    stages: o.stages,
    chunk_size: o.chunkSize,
    // A PATCH changes these while the batch runs: the live values are the ones in force.
    max_parallel_chunks: live?.max_parallel_chunks ?? o.maxParallelChunks,
    priority: o.priority,
    on_cancel: o.onCancel,
    max_failure_ratio: live?.max_failure_ratio ?? o.maxFailureRatio,
    callback_url: callbackUrl,
  };
}
