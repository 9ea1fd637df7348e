/** What the worker takes from config: the classify tiers, and the options of a whole worker process. */
/**
 * The classify tiers as configured: thresholds, costs, the taxonomy and the fallback endpoint.
 * An operator's taxonomy (CLASSIFY_TAXONOMY) is trained here, at worker start, so a bad file stops
 * the worker with a message naming it rather than failing batches later.
 */
import { createFallback, loadTaxonomy, trainCore, type ClassifyOptions } from '../../activities';
import type { Config } from '../config';
import { createBlobStore } from '../../activities/blobs';
import type { WorkerDeps } from './worker';

export function classifyOptions(config: Config): Partial<ClassifyOptions> {
  const c = config.classify;
  return {
    ...(c.taxonomyPath ? { core: trainCore(loadTaxonomy(c.taxonomyPath)) } : {}),
    coreThreshold: c.coreThreshold,
    fallbackThreshold: c.fallbackThreshold,
    cost: c.cost,
    ...(c.fallback ? { fallback: createFallback(c.fallback) } : {}),
  };
}

/** Everything a process's workers take from config; the caller adds the connection and database. */
export function workerOptions(config: Config): Omit<WorkerDeps, 'connection' | 'db'> {
  return {
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    identity: config.workerIdentity,
    ...(config.workerDeployment ? { deployment: config.workerDeployment } : {}),
    publishUrl: config.publishUrl,
    publishTimeoutMs: config.publishTimeoutMs,
    classify: classifyOptions(config),
    ratePerMinute: config.ratePerMinute,
    activitySlots: config.activitySlots,
    blobs: createBlobStore(config.blobs),
    chunkChars: config.ingest.chunkChars,
    chunkOverlap: config.ingest.chunkOverlap,
    webhook: { secret: config.webhook.secret, allowPrivate: config.allowPrivateCallbacks, retry: config.webhook.retry },
  };
}
