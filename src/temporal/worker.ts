/** Builds the worker that runs batch workflows and activities on one task queue. */
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Kysely } from 'kysely';
import type { WorkerDeployment } from '../config';
import { createActivities } from '../../activities';
import type { ClassifyOptions } from '../../activities';
import type { BlobStore } from '../../activities/blobs';
import type { WebhookOptions } from '../../activities/webhook';
import type { Stage } from '../contracts/workflow';
import type { Database } from '../db/schema';
import { EXPRESS_ACTIVITY_SLOTS, expressTaskQueue } from './task-queues';
import { shareWorkflowThread } from './shared-workflow-thread';
import { metricsInterceptors } from '../metrics/activity-interceptor';
import { workerTracing, workflowInterceptorsModule, type Tracing } from '../tracing';

export interface WorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** What Temporal records for this worker (WORKER_IDENTITY); unset, the SDK's `pid@hostname`. */
  identity?: string;
  /** Worker Versioning: the deployment version this worker serves (WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID). */
  deployment?: WorkerDeployment;
  db: Kysely<Database>;
  publishUrl?: string;
  publishTimeoutMs?: number;
  /** The classify tiers (see classifyOptions in ./options). */
  classify?: Partial<ClassifyOptions>;
  /** Items per minute per stage, shared by every worker (config's ratePerMinute). */
  ratePerMinute?: Partial<Record<Stage, number>>;
  /** Where ingested content goes: createBlobStore(config.blobs); or an fs store under blobDir (tests). */
  blobs?: BlobStore;
  blobDir?: string;
  /** Ingest chunking defaults (config's ingest.chunkChars / chunkOverlap). */
  chunkChars?: number;
  chunkOverlap?: number;
  /** Completion webhooks: secret, private addresses allowed, retry policy (workerOptions in ./options). */
  webhook?: WebhookOptions;
  /** Activity slots of the normal queue's worker (default 32); express has its own (default EXPRESS_ACTIVITY_SLOTS, 16). */
  activitySlots?: number;
  expressActivitySlots?: number;
  /**
   * A prebuilt bundle, in memory or as a file (`{ codePath }`, from `npm run build:workflows`);
   * without one the workflows are bundled now (a few seconds).
   */
  workflowBundle?: WorkflowBundleWithSourceMap | { codePath: string };
  /** After shutdown(), how long running activities may finish before they are cancelled (default 30 s). */
  shutdownGraceMs?: number;
  /**
   * OpenTelemetry tracing (src/tracing), off when absent. The workflow spans need a bundle made
   * with bundleWorkflows({ tracing: true }); without a prebuilt bundle createWorkers makes one.
   */
  tracing?: Tracing;
}

export const workflowsPath = require.resolve('../../workflows');

/** Bundles workflow code once, e.g. for a test suite that starts many workers. */
export const bundleWorkflows = (opts: { tracing?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> =>
  bundleWorkflowCode({
    workflowsPath,
    logger: quietBundlerLogger,
    ...(opts.tracing ? { workflowInterceptorModules: [workflowInterceptorsModule] } : {}),
  });

// The bundler reports webpack's progress at info level; only problems are worth showing.
const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

/** `workerClass`: Worker, or a sharer's (./shared-workflow-thread) so that workers share one workflow thread. */
export async function createWorker(deps: WorkerDeps, workerClass: typeof Worker = Worker): Promise<Worker> {
  const traced = deps.tracing ? workerTracing(deps.tracing) : undefined;
  return workerClass.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.identity ? { identity: deps.identity } : {}),
    ...(deps.deployment
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: deps.deployment.deploymentName, buildId: deps.deployment.buildId },
            useWorkerVersioning: true as const,
            defaultVersioningBehavior: deps.deployment.behavior,
          },
        }
      : {}),
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath }),
    activities: createActivities({
      db: deps.db,
      publishUrl: deps.publishUrl,
      publishTimeoutMs: deps.publishTimeoutMs,
      classify: deps.classify,
      ratePerMinute: deps.ratePerMinute,
      blobs: deps.blobs,
      blobDir: deps.blobDir,
      chunkChars: deps.chunkChars,
      chunkOverlap: deps.chunkOverlap,
      webhook: deps.webhook,
    }),
    // Heartbeats are how a cancel reaches a running chunk; flushing them at least every 2 s keeps
    // "cancelled within seconds" true even with long heartbeat timeouts.
    maxHeartbeatThrottleInterval: '2 seconds',
    // Chunks are the unit of work: a handful per batch in flight, several batches at once.
    maxConcurrentActivityTaskExecutions: deps.activitySlots ?? 32,
    // A chunk cancelled by shutdown records what it did and fails its attempt; another worker retries the rest.
    shutdownGraceTime: deps.shutdownGraceMs ?? 30_000,
    // Metrics and log attributes (batchId, stage, chunk) of every activity call; spans when tracing.
    interceptors: { activity: traced ? [metricsInterceptors, traced.activity] : [metricsInterceptors] },
    ...(traced ? { sinks: traced.sinks } : {}),
  });
}

/**
 * The workers a process runs: one on the normal task queue and one on the express queue, each with
 * slots of its own, so express batches overtake queued normal work instead of waiting behind it.
 * They share one workflow thread (./shared-workflow-thread): a second one cost ~40 MiB of RSS.
 */
export async function createWorkers(deps: WorkerDeps): Promise<Worker[]> {
  const bundle = deps.workflowBundle ?? (await bundleWorkflows({ tracing: Boolean(deps.tracing) }));
  const sharer = shareWorkflowThread();
  const normal = await createWorker({ ...deps, workflowBundle: bundle }, sharer.Worker);
  const express = await createWorker(
    {
      ...deps,
      workflowBundle: bundle,
      taskQueue: expressTaskQueue(deps.taskQueue),
      activitySlots: deps.expressActivitySlots ?? EXPRESS_ACTIVITY_SLOTS,
    },
    sharer.Worker,
  );
  return [normal, express];
}
