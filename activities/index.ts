/**
 * The activities: all of batchflow's I/O. Built from a factory over their dependencies, so tests
 * pass real ones (a test schema, a loopback publish target) without monkey-patching.
 *
 * This file only wires. Each stage is a folder under stages/ with its handler and its undo;
 * stages/runner.ts runs a stage over a chunk; compensate.ts calls the undos; bookkeeping.ts,
 * retention.ts and webhook/ are the workflow's other activities.
 */
import type { Kysely } from 'kysely';
import type { CompensateInput, CompensateOutcome, Stage, StageInput, StageOutcome } from '../src/contracts/workflow';
import type { Database } from '../src/db/schema';
import { runStage } from './stages/runner';
import { perMinute, type RateLimit } from './rate-limit';
import { classifyStage, type ClassifyOptions } from './stages/classify';
import { ingestStage } from './stages/ingest';
import { checkChunking, DEFAULT_CHUNKING } from './stages/ingest/chunks';
import { publishStage } from './stages/publish';
import { createFsBlobStore, missingBlobStore, type BlobStore } from './blobs';
import { compensationActivities } from './compensate';
import { bookkeepingActivities } from './bookkeeping';
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

export const createActivities = (deps: ActivityDeps) => {
  const { db } = deps;
  const blobs = deps.blobs ?? (deps.blobDir ? createFsBlobStore(deps.blobDir) : missingBlobStore());
  const chunking = checkChunking({
    chars: deps.chunkChars ?? DEFAULT_CHUNKING.chars,
    overlap: deps.chunkOverlap ?? DEFAULT_CHUNKING.overlap,
  });
  const limit = (stage: Stage): RateLimit | undefined => {
    const n = deps.ratePerMinute?.[stage];
    return n ? perMinute(n) : undefined;
  };
  const stages = {
    classify: classifyStage(deps.classify),
    ingest: ingestStage(db, { blobs, chunking }),
    publish: publishStage(db, { url: deps.publishUrl, timeoutMs: deps.publishTimeoutMs ?? 10_000 }),
  };
  const compensation = compensationActivities(db, { publish: stages.publish.undo, ingest: stages.ingest.undo });

  return {
    /** Retention: deletes a page of finished batches past their age (see retention.ts). */
    ...retentionActivities(db, blobs),

    /** Completion webhooks (see webhook/). */
    ...webhookActivities(db, deps.webhook),

    /** The three stages, each run over a chunk by stages/runner.ts. */
    async classify(input: StageInput): Promise<StageOutcome> {
      return runStage(db, input, stages.classify.handler, limit('classify'));
    },
    async ingest(input: StageInput): Promise<StageOutcome> {
      return runStage(db, input, stages.ingest.handler, limit('ingest'));
    },
    async publish(input: StageInput): Promise<StageOutcome> {
      return runStage(db, input, stages.publish.handler, limit('publish'));
    },

    /** The saga's undo step for one chunk (see compensate.ts). */
    async compensate(input: CompensateInput): Promise<CompensateOutcome> {
      return compensation.compensate(input);
    },

    /** Started, snapshots, failed ranges, the end; redrive and review pick-up (see bookkeeping.ts). */
    ...bookkeepingActivities(db),
  };
};

export type Activities = ReturnType<typeof createActivities>;
