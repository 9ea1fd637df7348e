/**
 * The batch workflow's arithmetic, as plain functions over one state object: tallies, progress,
 * the failure ratio, backoff, which chunk runs next, how the batch ends. Nothing here touches
 * Temporal (no @temporalio import), so test/unit/workflow-state.test.ts runs it without a server,
 * and the workflow code around it only decides when to call what.
 */
import {
  emptyCost,
  emptyCounts,
  STAGES,
  type BatchOptions,
  type BatchStatus,
  type BatchWorkflowInput,
  type CarriedState,
  type CompensateOutcome,
  type Cost,
  type Progress,
  type Stage,
  type StageOutcome,
  type StageRetry,
} from '../../src/contracts/workflow';

/** What a run carries to the next, with the fields every run of this code sets. */
export type Carried = CarriedState & Required<Pick<CarriedState, 'phase' | 'redrive' | 'cost'>>;

/** One run's view of its batch: the carried part, and what only this run knows. */
export interface BatchState {
  readonly batchId: string;
  readonly tenantId: string;
  readonly totalItems: number;
  readonly options: BatchOptions;
  readonly chunkCount: number;
  carried: Carried;
  /** Chunks this batch has finished a pass over (the carried `nextChunk` counts as done). */
  chunksDone: number;
  /** The chunks at work and what they are at, for progress and the parallelism limit's display. */
  inFlight: Map<number, Stage | 'undo'>;
  finalStatus: BatchStatus | null;
  /** Set once the run has decided how it ends: updates that would add work are refused after. */
  closing: boolean;
  rolledBack: boolean;
}

export const chunkCountOf = (totalItems: number, chunkSize: number): number => Math.ceil(totalItems / chunkSize);

/** A run's starting state: what the previous run carried over, or a fresh batch (or a redrive of a finished one). */
export function initialState(input: BatchWorkflowInput, nowMs: number): BatchState {
  const { batchId, tenantId, totalItems, options } = input;
  const chunkCount = chunkCountOf(totalItems, options.chunkSize);
  const carried: CarriedState = input.carried ?? {
    // A redrive of a finished batch runs only the chunks resetFailed names: no new chunks are left.
    nextChunk: input.redriveFinished ? chunkCount : 0,
    counts: emptyCounts(totalItems),
    startedAtMs: nowMs,
    paused: false,
    maxParallelChunks: options.maxParallelChunks,
    maxFailureRatio: options.maxFailureRatio,
    cancelRequested: null,
    runs: 0,
  };
  carried.runs += 1;
  carried.phase ??= 'run';
  carried.redrive ??= [];
  carried.cost ??= emptyCost();
  return {
    batchId,
    tenantId,
    totalItems,
    options,
    chunkCount,
    carried: carried as Carried,
    chunksDone: carried.nextChunk,
    inFlight: new Map(),
    finalStatus: null,
    closing: false,
    rolledBack: false,
  };
}

/** The items of chunk `index`: `[from, to)`, the last chunk possibly shorter. */
export function chunkRange(s: BatchState, index: number): { from: number; to: number } {
  return { from: index * s.options.chunkSize, to: Math.min(s.totalItems, (index + 1) * s.options.chunkSize) };
}

/** A cancel or too many failures: the run stops dispatching and goes to compensate. */
export const stopRequested = (s: BatchState): boolean => s.carried.cancelRequested !== null || s.carried.failureRatioExceeded === true;

/** Whether updates that add work (configure, retry-failed, reviewed) may still be accepted. */
export const acceptsWork = (s: BatchState): boolean => !s.closing && s.carried.phase === 'run' && !stopRequested(s);

/** Marks the batch as over its failure ratio; once set it stays set (the batch is stopping). */
export function checkFailureRatio(s: BatchState): void {
  const { counts, maxFailureRatio } = s.carried;
  if (s.totalItems > 0 && counts.failed / s.totalItems > maxFailureRatio) s.carried.failureRatioExceeded = true;
}

/**
 * Adds what a stage call changed since `before`: the previous call for the same chunk and stage
 * (stage calls report cumulative tallies), the chunk as it stood for a redriven chunk's first
 * call, or nothing. Only the last stage's successes make an item final.
 */
export function tally(s: BatchState, stage: Stage, now: StageOutcome, before: StageOutcome['before'] | null, last: boolean): void {
  const d = (k: 'succeeded' | 'failed' | 'needsReview'): number => now[k] - (before?.[k] ?? 0);
  const c = s.carried.counts;
  if (stage === 'classify') c.classified += d('succeeded') + d('needsReview');
  if (stage === 'ingest') c.ingested += d('succeeded');
  if (stage === 'publish') c.published += d('succeeded');
  c.failed += d('failed');
  c.needs_review += d('needsReview');
  c.pending -= d('failed') + d('needsReview') + (last ? d('succeeded') : 0);
  if (now.cost) addCost(s.carried.cost, now.cost, before?.cost);
  checkFailureRatio(s);
}

/** Adds the cost a call reported beyond what it reported before (costs are cumulative too). */
function addCost(total: Cost, now: Cost, before: Cost | undefined): void {
  total.total += now.total - (before?.total ?? 0);
  for (const [tier, n] of Object.entries(now.by_tier)) {
    total.by_tier[tier] = (total.by_tier[tier] ?? 0) + n - (before?.by_tier[tier] ?? 0);
  }
}

/** A stage call failed as a whole: `n` of its chunk's items were marked failed. */
export function countFailedRange(s: BatchState, n: number): void {
  s.carried.counts.failed += n;
  s.carried.counts.pending -= n;
  checkFailureRatio(s);
}

/** The undo of failed items: those it could not undo stay behind as orphans, not as failures. */
export function countFailedUndone(s: BatchState, out: CompensateOutcome): void {
  s.carried.counts.failed -= out.orphaned;
  s.carried.counts.orphaned += out.orphaned;
}

/** The undo of a chunk in the compensate phase. */
export function countCompensated(s: BatchState, out: CompensateOutcome): void {
  s.carried.counts.orphaned += out.orphaned;
  s.carried.counts.compensated += out.undone;
}

/** Puts chunks in line to run again, each once, in the order given. */
export function queueRedrive(s: BatchState, chunks: number[]): void {
  for (const c of chunks) if (!s.carried.redrive.includes(c)) s.carried.redrive.push(c);
}

/** retry-failed reset `items` failed items to pending, in `chunks`. */
export function countRetried(s: BatchState, items: number, chunks: number[]): void {
  s.carried.counts.failed -= items;
  s.carried.counts.pending += items;
  queueRedrive(s, chunks);
}

/** A person resolved the review of item `seq`: it is pending again, and its chunk runs again. */
export function countReviewed(s: BatchState, seq: number): void {
  s.carried.counts.needs_review -= 1;
  s.carried.counts.pending += 1;
  queueRedrive(s, [Math.floor(seq / s.options.chunkSize)]);
}

/** The next chunk to run: a redriven one (once it is not in flight), else the next new one. */
export function nextChunk(s: BatchState): { index: number; redriven: boolean } | undefined {
  const redrive = s.carried.redrive.findIndex((c) => !s.inFlight.has(c));
  if (redrive >= 0) return { index: s.carried.redrive.splice(redrive, 1)[0]!, redriven: true };
  if (s.carried.nextChunk < s.chunkCount) return { index: s.carried.nextChunk++, redriven: false };
  return undefined;
}

/** A chunk could start now (a redriven chunk still in flight has to finish first). */
export const hasWork = (s: BatchState): boolean => s.carried.nextChunk < s.chunkCount || s.carried.redrive.some((c) => !s.inFlight.has(c));

/** Chunks not yet run or waiting to run again: a run that stops with some left hands over to a new run. */
export const hasWorkLeft = (s: BatchState): boolean => s.carried.nextChunk < s.chunkCount || s.carried.redrive.length > 0;

/** The durable backoff before items that failed transiently are dispatched again. */
export function backoffMs(r: StageRetry, attempt: number, retryAfterMs: number): number {
  const exponential = Math.min(r.maximumIntervalMs, r.initialIntervalMs * r.backoffCoefficient ** (attempt - 1));
  return Math.max(exponential, retryAfterMs);
}

/** At this attempt a transient failure is final; 0 in the policy means no limit. */
export const maxAttemptsOf = (r: StageRetry): number => (r.maximumAttempts > 0 ? r.maximumAttempts : Number.MAX_SAFE_INTEGER);

/**
 * Whether the items that failed at stage `i` may have left effects to undo: staged or published
 * by earlier stages, or (a publish without a definite answer) by this one. Classify leaves none.
 */
export const mayHaveEffects = (stages: Stage[], i: number): boolean =>
  stages[i] === 'publish' || stages.slice(0, i).some((s) => s !== 'classify');

/** The status the API reports while the batch runs, and its final one once decided. */
export function status(s: BatchState): BatchStatus {
  if (s.finalStatus) return s.finalStatus;
  if (s.carried.cancelRequested) return 'cancelling';
  if (s.carried.paused && s.carried.phase === 'run') return 'paused';
  return 'running';
}

/** The status as the Temporal UI shows it: the API's, plus the undo phase. */
export function uiStatus(s: BatchState): string {
  if (!s.finalStatus && s.carried.phase === 'compensate') return 'compensating';
  return status(s);
}

/** The deepest stage any chunk is at (undo is not a stage), for the progress query. */
function currentStage(s: BatchState): Stage | null {
  let deepest: Stage | null = null;
  for (const at of s.inFlight.values()) {
    if (at !== 'undo' && (deepest === null || STAGES.indexOf(at) > STAGES.indexOf(deepest))) deepest = at;
  }
  return deepest;
}

/** The answer of the progress query at `nowMs`. */
export function progress(s: BatchState, nowMs: number): Progress {
  const c = s.carried.counts;
  const total = s.totalItems;
  const finished = total - c.pending;
  const elapsedS = Math.max(0.001, (nowMs - s.carried.startedAtMs) / 1000);
  const rate = finished / elapsedS;
  const cost = s.carried.cost;
  return {
    status: status(s),
    total_items: total,
    counts: { ...c },
    progress_percent: total === 0 ? 100 : Math.round((finished / total) * 1000) / 10,
    stage: currentStage(s),
    eta_seconds: c.pending === 0 ? 0 : rate > 0 ? Math.ceil(c.pending / rate) : null,
    items_per_second: Math.round(rate * 10) / 10,
    chunks: { total: s.chunkCount, done: s.chunksDone, in_flight: s.inFlight.size },
    max_parallel_chunks: s.carried.maxParallelChunks,
    max_failure_ratio: s.carried.maxFailureRatio,
    rolled_back: s.rolledBack,
    started_at: new Date(s.carried.startedAtMs).toISOString(),
    cost: { total: Math.round(cost.total * 1e4) / 1e4, by_tier: { ...cost.by_tier } },
  };
}

/**
 * Enters the compensate phase after a stop: a cancel that keeps its work undoes only what is
 * unfinished; a rollback, or too many failures, undoes everything. Undo runs last chunk first,
 * from the last chunk that was started.
 */
export function startCompensation(s: BatchState): void {
  const keep = s.carried.cancelRequested !== null && !s.carried.cancelRequested.rollback;
  s.carried.phase = 'compensate';
  s.carried.compensation = { scope: keep ? 'unfinished' : 'all', next: s.carried.nextChunk - 1 };
}

/** How the batch ends: a cancel wins over the failure ratio, and any item left behind makes it partial. */
export function finalStatus(s: BatchState): BatchStatus {
  const c = s.carried.counts;
  if (s.carried.cancelRequested) return 'cancelled';
  if (s.carried.failureRatioExceeded) return 'failed';
  return c.failed + c.needs_review + c.orphaned > 0 ? 'partial' : 'completed';
}

/** The batch's error when the failure ratio ended it (a cancel is not an error). */
export function finalError(s: BatchState): { code: string; message: string } | null {
  if (!s.carried.failureRatioExceeded || s.carried.cancelRequested) return null;
  return { code: 'failure_ratio_exceeded', message: `more than ${s.carried.maxFailureRatio * 100}% of items failed` };
}
