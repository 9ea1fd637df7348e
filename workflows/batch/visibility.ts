/**
 * What the Temporal UI shows of a batch while it runs: the workflow's current details (markdown,
 * no history event) and the BatchStatus and FailedCount search attributes (an upsert event, only
 * when they changed). Called on each chunk's end and each change of status, never per item, so a
 * run's history grows by at most one event a chunk.
 */
import * as wf from '@temporalio/workflow';
import { BatchStatusKey, FailedCountKey } from '../../src/temporal/search-attributes';
import { batchCurrentDetails, batchStaticSummary } from '../../src/temporal/user-metadata';
import { uiStatus, type BatchState } from './state';

/** Tells the Temporal UI where the batch stands now. */
export function report(s: BatchState): void {
  wf.setCurrentDetails(currentDetails(s));
  // The end sets both attributes itself (reportEnd), from the counts the database confirmed.
  if (!s.finalStatus) upsertChanged(s);
}

function currentDetails(s: BatchState): string {
  const c = s.carried;
  const { batchId, tenantId, totalItems, options } = s;
  return batchCurrentDetails({
    status: uiStatus(s),
    phase: c.phase,
    paused: c.paused,
    cancelRequested: c.cancelRequested,
    failureRatioExceeded: c.failureRatioExceeded === true,
    totalItems,
    counts: c.counts,
    chunks: { total: s.chunkCount, done: s.chunksDone, inFlight: s.inFlight.size },
    maxParallelChunks: c.maxParallelChunks,
    runs: c.runs,
    // The server does not carry the static summary over a continue-as-new: repeat it.
    summary: c.runs > 1 ? batchStaticSummary({ batchId, tenantId, totalItems, options }) : undefined,
  });
}

/** Upserts only the attributes whose value changed, so an unchanged report adds no event. */
function upsertChanged(s: BatchState): void {
  const shown = wf.workflowInfo().typedSearchAttributes;
  const changed: Parameters<typeof wf.upsertSearchAttributes>[0] = [];
  const status = uiStatus(s);
  if (shown.get(BatchStatusKey) !== status) changed.push({ key: BatchStatusKey, value: status });
  if (shown.get(FailedCountKey) !== s.carried.counts.failed) changed.push({ key: FailedCountKey, value: s.carried.counts.failed });
  if (changed.length > 0) wf.upsertSearchAttributes(changed);
}

/** The batch's end, as the UI lists it: the final status and failed count, always upserted. */
export function reportEnd(s: BatchState): void {
  report(s);
  wf.upsertSearchAttributes([
    { key: BatchStatusKey, value: s.finalStatus! },
    { key: FailedCountKey, value: s.carried.counts.failed },
  ]);
}
