/**
 * The activities: all of batchflow's I/O. Built from a factory over their dependencies, so tests
 * pass real ones (a test schema, a loopback publish target) without monkey-patching.
 */
import type { Kysely } from 'kysely';
import type { BatchStatus, CompensateInput, CompensateOutcome, Cost, Counts, ItemRange, ResetOutcome, Stage, StageInput, StageOutcome } from '../src/contracts/workflow';
import type { Database } from '../src/db/schema';
import * as batches from '../src/db/batches';
import { decidedReviewChunks, endUnfinished, resetFailed } from '../src/db/items';
import { costOf, countItems } from '../src/db/counts';
import { runStage, type StageHandler } from './stages/runner';
import { perMinute, type RateLimit } from './rate-limit';
import { classifyHandler, type ClassifyOptions } from './stages/classify';
import { defaultCore } from './stages/classify/default-model';
import { ingestHandler } from './stages/ingest';
import { createFsBlobStore, missingBlobStore, type BlobStore } from './blobs';
import { checkChunking, DEFAULT_CHUNKING } from './stages/ingest/chunks';
import { unstager } from './stages/ingest/undo';
import { catalogPublisher } from './stages/publish/catalog';
import { httpPublisher } from './stages/publish/http';
import { compensateChunk } from './compensate';
import { catalogResolver, catalogUnpublisher, httpResolver, httpUnpublisher } from './stages/publish/undo';
import { retentionActivities } from './retention';
import { webhookActivities, type WebhookOptions } from './webhook';

// What the worker's setup (src/) builds the deps from: one import path whatever the layout here.
export type { ClassifyOptions, CoreTier } from './stages/classify';
export { createFallback, type FallbackAnswer } from './stages/classify/fallback';
export { trainCore } from './stages/classify/model';
export { loadTaxonomy } from './stages/classify/taxonomy';
export { createBlobStore, type BlobStore } from './blobs';
export type { WebhookOptions } from './webhook';

export interface ActivityDeps {
  db: Kysely<Database>;
  /** When set, publish goes to this target over HTTP; otherwise to the built-in catalog. */
  publishUrl?: string;
  publishTimeoutMs?: number;
  /** Items per minute per stage, across every worker together (config's ratePerMinute); absent: unlimited. */
  ratePerMinute?: Partial<Record<Stage, number>>;
  /** The classify tiers; defaults: the core model trained on the shipped taxonomy, no fallback. */
  classify?: Partial<ClassifyOptions>;
  /**
   * Where ingest writes content (and undo deletes it): `createBlobStore(config.blobs)`. Without it,
   * an fs store under `blobDir` if given; without either, text-only batches still run and the first
   * item with content fails its ingest call for good (`BlobStoreMissing`).
   */
  blobs?: BlobStore;
  blobDir?: string;
  /** Ingest chunking when a batch's metadata sets none; defaults 1,000 and 100 (config's defaults). */
  chunkChars?: number;
  chunkOverlap?: number;
  /** Completion webhooks: the signing secret, private addresses allowed or not, the retry policy. */
  webhook?: WebhookOptions;
}

/** The original design's thresholds and per-decision costs, when config does not say otherwise. */
const CLASSIFY_DEFAULTS = { coreThreshold: 0.85, fallbackThreshold: 0.7, cost: { core: 0.001, fallback: 0.02, human_review: 0.5 } };

export const createActivities = (deps: ActivityDeps) => {
  const { db } = deps;
  const blobs = deps.blobs ?? (deps.blobDir ? createFsBlobStore(deps.blobDir) : missingBlobStore());
  const chunking = checkChunking({ chars: deps.chunkChars ?? DEFAULT_CHUNKING.chars, overlap: deps.chunkOverlap ?? DEFAULT_CHUNKING.overlap });
  const limit = (stage: Stage): RateLimit | undefined => {
    const n = deps.ratePerMinute?.[stage];
    return n ? perMinute(n) : undefined;
  };
  const handlers: Record<Stage, StageHandler> = {
    classify: classifyHandler({ ...CLASSIFY_DEFAULTS, core: deps.classify?.core ?? defaultCore(), ...deps.classify }),
    ingest: ingestHandler(db, { blobs, chunking }),
    publish: deps.publishUrl
      ? httpPublisher({ baseUrl: deps.publishUrl, timeoutMs: deps.publishTimeoutMs ?? 10_000, concurrency: 8 })
      : catalogPublisher(db),
  };
  const target = { baseUrl: deps.publishUrl ?? '', timeoutMs: deps.publishTimeoutMs ?? 10_000 };
  const unpublish = deps.publishUrl ? httpUnpublisher(target) : catalogUnpublisher(db);
  const resolve = deps.publishUrl ? httpResolver(target) : catalogResolver(db);
  const unstage = unstager(db, blobs);

  return {
    /** Retention: deletes a page of finished batches past their age (see retention.ts). */
    ...retentionActivities(db, blobs),

    /** Completion webhooks (see webhook.ts). */
    ...webhookActivities(db, deps.webhook),

    async classify(input: StageInput): Promise<StageOutcome> {
      return runStage(db, input, handlers.classify, limit('classify'));
    },
    async ingest(input: StageInput): Promise<StageOutcome> {
      return runStage(db, input, handlers.ingest, limit('ingest'));
    },
    async publish(input: StageInput): Promise<StageOutcome> {
      return runStage(db, input, handlers.publish, limit('publish'));
    },

    /** The saga's undo step for one chunk (see compensate.ts). */
    async compensate(input: CompensateInput): Promise<CompensateOutcome> {
      return compensateChunk(db, unpublish, resolve, unstage, input);
    },

    /**
     * Redrive: failed items go back to pending, to run again from the first stage. For a batch that
     * had finished (`reopen`), its row says running again until the new run ends.
     */
    async resetFailed(input: { batchId: string; chunkSize: number; reopen: boolean; stages: Stage[]; keepFailed?: boolean }): Promise<ResetOutcome & { counts: Counts; cost: Cost }> {
      const reset = await resetFailed(db, input.batchId, input.chunkSize, input.keepFailed ?? false, input.reopen);
      if (input.reopen) await batches.reopen(db, input.batchId);
      return { ...reset, counts: await countItems(db, input.batchId, input.stages), cost: await costOf(db, input.batchId) };
    },

    /**
     * Review decisions recorded but not yet picked up by a run, as chunks to run again, with the
     * counts as the database has them (a decision moved an item from needs_review to pending).
     */
    async pickUpReviews(input: { batchId: string; chunkSize: number; stages: Stage[] }): Promise<{ chunks: number[]; counts?: Counts }> {
      const chunks = await decidedReviewChunks(db, input.batchId, input.chunkSize);
      return chunks.length === 0 ? { chunks } : { chunks, counts: await countItems(db, input.batchId, input.stages) };
    },

    /** Marks the batch running; a no-op for a batch already past `queued`. */
    async markBatchStarted(batchId: string): Promise<void> {
      await batches.markStarted(db, batchId);
    },

    /** Keeps the database's counts snapshot current between runs (continue-as-new). */
    async saveSnapshot(input: { batchId: string; status: BatchStatus; counts: Counts }): Promise<void> {
      await batches.saveSnapshot(db, input.batchId, input.status, input.counts);
    },

    /**
     * A chunk whose stage call failed for good (retries exhausted, or a permanent whole-call
     * error): its unfinished items end `failed` with that error rather than staying pending.
     */
    async failRange(input: { batchId: string; range: ItemRange; stage: Stage; code: string; message: string; attempts: number; retryable?: boolean }): Promise<number> {
      return endUnfinished(db, input.batchId, 'failed', {
        range: input.range,
        stage: input.stage,
        // Retryable unless the call failed for good: a call that used up its retries failed as a
        // whole (an outage), not because of the item, and a redrive may pass. Histories recorded
        // before the workflow said which had no `retryable`: those were all called retryable.
        error: { code: input.code, message: `${input.stage}: ${input.message}`, retryable: input.retryable ?? true, attempts: input.attempts },
      });
    },

    /**
     * Records the batch's end. For a batch that stopped early (cancelled, or failed over its
     * failure ratio), every item no stage finished ends `cancelled`. Answers the final counts.
     */
    async finishBatch(input: {
      batchId: string;
      status: BatchStatus;
      counts: Counts;
      rolledBack: boolean;
      error: { code: string; message: string } | null;
      stages: Stage[];
    }): Promise<{ cancelled: number; counts: Counts; cost: Cost }> {
      const stopped = input.status === 'cancelled' || input.status === 'failed';
      const cancelled = stopped ? await endUnfinished(db, input.batchId, 'cancelled') : 0;
      // The workflow's tallies miss what a cancelled chunk did before it stopped; the recorded
      // results do not, so the final counts come from them.
      const counts = await countItems(db, input.batchId, input.stages);
      // A rollback that left orphans did not undo everything: the batch says so.
      const rolledBack = input.rolledBack && counts.orphaned === 0;
      const cost = await costOf(db, input.batchId);
      await batches.finishBatch(db, input.batchId, { ...input, rolledBack, counts, cost });
      return { cancelled, counts, cost };
    },
  };
};

export type Activities = ReturnType<typeof createActivities>;
