/**
 * One typed view of the environment, validated once at start-up so a bad value fails fast with a
 * clear message instead of surfacing mid-batch. The variables and their defaults: env.ts.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { RetryPolicies, StageRetry } from '../contracts/workflow';
import { DEFAULT_WEBHOOK_RETRY, type WebhookRetry } from '../contracts/webhook';
import { CONTRACT_LIMITS, type Bucket, type KeyLimits, type Rate } from '../auth/limits';
import { EnvSchema, type Env } from './env';

export type { Env };

/**
 * Default retry policies. Transient failures (timeouts, 5xx, 429, lost connections) back off
 * exponentially; the error types listed as non-retryable are the adapters' permanent failures.
 */
const PERMANENT = ['ValidationError', 'DownstreamRejected', 'NotFound', 'BatchMissing'];
const baseRetry: StageRetry = {
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 60_000,
  maximumAttempts: 10,
  nonRetryableErrorTypes: PERMANENT,
  startToCloseTimeoutMs: 10 * 60_000,
  // Chunk activities heartbeat per item; 30 s without one means the worker is gone.
  heartbeatTimeoutMs: 30_000,
};
export const DEFAULT_RETRY: RetryPolicies = {
  classify: { ...baseRetry },
  ingest: { ...baseRetry },
  publish: { ...baseRetry, maximumIntervalMs: 120_000, maximumAttempts: 12 },
};

const StageRetryOverride = z
  .strictObject({
    initialIntervalMs: z.int().positive(),
    backoffCoefficient: z.number().min(1),
    maximumIntervalMs: z.int().positive(),
    // At least 1: a stage's items must end (failed, then redrivable), and Temporal refuses 0 as a limit.
    maximumAttempts: z.int().min(1),
    nonRetryableErrorTypes: z.array(z.string()),
    startToCloseTimeoutMs: z.int().positive(),
    heartbeatTimeoutMs: z.int().positive(),
  })
  .partial();
const RetryOverrides = z.strictObject({
  classify: StageRetryOverride.optional(),
  ingest: StageRetryOverride.optional(),
  publish: StageRetryOverride.optional(),
});

export interface Config {
  env: Env;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  /** PostgreSQL's bounds: DB_CONNECT_TIMEOUT_MS and DB_STATEMENT_TIMEOUT_MS. */
  database: { connectTimeoutMs: number; statementTimeoutMs: number };
  /** registerSearchAttributes: TEMPORAL_REGISTER_SEARCH_ATTRIBUTES (src/temporal/search-attribute-setup.ts). */
  temporal: {
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
    registerSearchAttributes: boolean;
    /** TEMPORAL_API_KEY. */
    apiKey?: string;
    /** Present: TLS to Temporal (TEMPORAL_TLS and TEMPORAL_TLS_*); absent: plaintext. */
    tls?: TemporalTls;
  };
  /** TEMPORAL_DEV_PORT and TEMPORAL_DEV_UI_PORT: where `npm start` runs its dev server when TEMPORAL_ADDRESS is unset. */
  devServer: { port: number; uiPort: number };
  publishUrl: string | undefined;
  publishTimeoutMs: number;
  maxBodyBytes: number;
  allowPrivateCallbacks: boolean;
  /** Completion webhooks: the signing secret (WEBHOOK_SECRET) and the delivery's retry policy. */
  webhook: { secret: string | undefined; retry: WebhookRetry };
  logLevel: Env['LOG_LEVEL'];
  retry: RetryPolicies;
  devApiKey: string | undefined;
  classify: {
    taxonomyPath: string | undefined;
    coreThreshold: number;
    fallbackThreshold: number;
    fallback: { url: string; model: string; apiKey: string | undefined; timeoutMs: number } | undefined;
    cost: { core: number; fallback: number; human_review: number };
  };
  blobs: { driver: 'fs' | 's3'; dir: string; s3: { endpoint: string | undefined; bucket: string | undefined; region: string } };
  ingest: { chunkChars: number; chunkOverlap: number };
  /** Items per minute per stage, across every worker together; absent means unlimited. */
  ratePerMinute: Partial<Record<'classify' | 'ingest' | 'publish', number>>;
  /** Every API key's default limits (MAX_ITEMS_PER_BATCH, MAX_ACTIVE_BATCHES, RATE_LIMIT_*_PER_MINUTE or the deprecated *_PER_HOUR). */
  limits: KeyLimits;
  /** STALE_BATCH_MINUTES: when a queued or running batch counts as stale. */
  staleBatchMinutes: number;
  /** RECONCILE_INTERVAL_MS: the reconcile loop's period. */
  reconcileIntervalMs: number;
  /** PROGRESS_POLL_MS: the pause between a read batch's progress queries. */
  progressPollMs: number;
  /** API_KEY_CACHE_SECONDS in ms: how long the API remembers a key it found. */
  keyCacheMs: number;
  /** BATCH_RETENTION_DAYS: the retention schedule deletes batches finished longer ago than this. */
  retentionDays: number;
  /** WORKER_METRICS_*, TEMPORAL_CORE_METRICS*: where the worker's /metrics and Core's exporter listen (src/metrics). */
  metrics?: { workerPort: number; workerHost: string; core: boolean; corePort: number };
  /** BATCHFLOW_TRACING / OTEL_EXPORTER_OTLP_ENDPOINT: OpenTelemetry tracing (src/tracing), off by default. */
  tracing?: { enabled: boolean; endpoint: string | undefined; serviceName: string };
  /** WORKER_IDENTITY, else `batchflow-worker@<hostname>`. */
  workerIdentity: string;
  /** WORKER_DEPLOYMENT_NAME and WORKER_BUILD_ID: Worker Versioning, when both are set. */
  workerDeployment?: WorkerDeployment;
  /** WORKFLOW_BUNDLE_PATH: the worker loads this prebuilt bundle instead of bundling at start. */
  workflowBundlePath: string | undefined;
  /** WORKER_SHUTDOWN_GRACE_MS and API_SHUTDOWN_DRAIN_MS: what a SIGTERM waits for. */
  shutdown: { workerGraceMs: number; apiDrainMs: number };
  /** WORKER_ACTIVITY_SLOTS: concurrent activities per worker process on the main task queue. */
  activitySlots: number;
}

export class ConfigError extends Error {}

/**
 * Every key's default rate in one bucket: RATE_LIMIT_<BUCKET>_PER_MINUTE; else the deprecated
 * RATE_LIMIT_<BUCKET>_PER_HOUR, counted over its own hour; else the contract's per-minute default.
 */
function defaultRate(bucket: Bucket, perMinute: number | undefined, perHour: number | undefined): Rate {
  if (perMinute !== undefined) return { points: perMinute, windowSeconds: 60 };
  if (perHour !== undefined) return { points: perHour, windowSeconds: 3_600 };
  return { ...CONTRACT_LIMITS[bucket] };
}

/** What Temporal shows for a worker no one named: the host it runs on, not a process id. */
export const defaultWorkerIdentity = (): string => `batchflow-worker@${os.hostname()}`;

/** A worker's deployment version and what running batches do when another becomes current. */
export interface WorkerDeployment {
  deploymentName: string;
  buildId: string;
  behavior: 'PINNED' | 'AUTO_UPGRADE';
}

function workerDeployment(env: Env): { workerDeployment?: WorkerDeployment } {
  const { WORKER_DEPLOYMENT_NAME: deploymentName, WORKER_BUILD_ID: buildId } = env;
  if (!deploymentName && !buildId) return {};
  if (!deploymentName || !buildId)
    throw new ConfigError('invalid configuration:\n  WORKER_DEPLOYMENT_NAME and WORKER_BUILD_ID: Worker Versioning needs both');
  return {
    workerDeployment: { deploymentName, buildId, behavior: env.WORKER_VERSIONING_BEHAVIOR === 'auto-upgrade' ? 'AUTO_UPGRADE' : 'PINNED' },
  };
}

/** TLS to Temporal: the file paths and the name to check, each as given. */
export interface TemporalTls {
  certPath?: string;
  keyPath?: string;
  caPath?: string;
  serverName?: string;
}

/**
 * Whether and how to use TLS, as the Temporal CLI reads the same variables: on when TEMPORAL_TLS
 * says so, or when a TLS file, a server name or an API key is given; TEMPORAL_TLS=false keeps it off.
 */
function temporalTls(env: Env): { tls?: TemporalTls } {
  const tls: TemporalTls = {
    ...(env.TEMPORAL_TLS_CERT ? { certPath: env.TEMPORAL_TLS_CERT } : {}),
    ...(env.TEMPORAL_TLS_KEY ? { keyPath: env.TEMPORAL_TLS_KEY } : {}),
    ...(env.TEMPORAL_TLS_CA ? { caPath: env.TEMPORAL_TLS_CA } : {}),
    ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverName: env.TEMPORAL_TLS_SERVER_NAME } : {}),
  };
  const given = Object.keys(tls).length > 0;
  if (Boolean(tls.certPath) !== Boolean(tls.keyPath))
    throw new ConfigError('invalid configuration:\n  TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: a client certificate needs both');
  const flag = env.TEMPORAL_TLS === undefined ? undefined : env.TEMPORAL_TLS === 'true' || env.TEMPORAL_TLS === '1';
  if (flag === false && given) throw new ConfigError('invalid configuration:\n  TEMPORAL_TLS: false, yet TEMPORAL_TLS_* is set');
  const on = flag ?? (given || Boolean(env.TEMPORAL_API_KEY));
  return on ? { tls } : {};
}

/** Reads and validates the environment. Throws ConfigError naming every bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`PUBLISH_URL=` in a compose file) means "not set", not "set to nothing".
  const given = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const parsed = EnvSchema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const env = parsed.data;
  let retry = DEFAULT_RETRY;
  if (env.STAGE_RETRY_JSON) {
    let raw: unknown;
    try {
      raw = JSON.parse(env.STAGE_RETRY_JSON);
    } catch {
      throw new ConfigError('invalid configuration:\n  STAGE_RETRY_JSON: not JSON');
    }
    const overrides = RetryOverrides.safeParse(raw);
    if (!overrides.success) throw new ConfigError(`invalid configuration:\n  STAGE_RETRY_JSON: ${overrides.error.message}`);
    retry = {
      classify: { ...DEFAULT_RETRY.classify, ...overrides.data.classify },
      ingest: { ...DEFAULT_RETRY.ingest, ...overrides.data.ingest },
      publish: { ...DEFAULT_RETRY.publish, ...overrides.data.publish },
    };
  }
  return {
    env,
    port: env.PORT,
    dataDir: path.resolve(env.BATCHFLOW_DATA_DIR),
    databaseUrl: env.DATABASE_URL || undefined,
    database: { connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS, statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS },
    temporal: {
      address: env.TEMPORAL_ADDRESS || undefined,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      uiUrl: env.TEMPORAL_UI_URL.replace(/\/+$/, ''),
      registerSearchAttributes: env.TEMPORAL_REGISTER_SEARCH_ATTRIBUTES,
      ...(env.TEMPORAL_API_KEY ? { apiKey: env.TEMPORAL_API_KEY } : {}),
      ...temporalTls(env),
    },
    devServer: { port: env.TEMPORAL_DEV_PORT, uiPort: env.TEMPORAL_DEV_UI_PORT },
    publishUrl: env.PUBLISH_URL,
    publishTimeoutMs: env.PUBLISH_TIMEOUT_MS,
    maxBodyBytes: env.MAX_BODY_BYTES,
    allowPrivateCallbacks: env.ALLOW_PRIVATE_CALLBACKS,
    webhook: {
      secret: env.WEBHOOK_SECRET,
      retry: {
        ...DEFAULT_WEBHOOK_RETRY,
        initialIntervalMs: env.WEBHOOK_RETRY_INITIAL_MS,
        maximumIntervalMs: env.WEBHOOK_RETRY_MAX_INTERVAL_MS,
        maximumAttempts: env.WEBHOOK_RETRY_MAX_ATTEMPTS,
        windowMs: env.WEBHOOK_RETRY_WINDOW_MS,
        attemptTimeoutMs: env.WEBHOOK_TIMEOUT_MS,
      },
    },
    logLevel: env.LOG_LEVEL,
    retry,
    devApiKey: env.BATCHFLOW_DEV_API_KEY,
    classify: {
      taxonomyPath: env.CLASSIFY_TAXONOMY,
      coreThreshold: env.CLASSIFY_CORE_THRESHOLD,
      fallbackThreshold: env.CLASSIFY_FALLBACK_THRESHOLD,
      fallback: env.CLASSIFY_FALLBACK_URL
        ? {
            url: env.CLASSIFY_FALLBACK_URL,
            model: env.CLASSIFY_FALLBACK_MODEL,
            apiKey: env.CLASSIFY_FALLBACK_API_KEY,
            timeoutMs: env.CLASSIFY_FALLBACK_TIMEOUT_MS,
          }
        : undefined,
      cost: { core: env.CLASSIFY_COST_CORE, fallback: env.CLASSIFY_COST_FALLBACK, human_review: env.CLASSIFY_COST_HUMAN_REVIEW },
    },
    blobs: {
      driver: env.BLOB_STORE,
      dir: path.join(path.resolve(env.BATCHFLOW_DATA_DIR), 'blobs'),
      s3: { endpoint: env.S3_ENDPOINT, bucket: env.S3_BUCKET, region: env.S3_REGION },
    },
    ingest: { chunkChars: env.INGEST_CHUNK_CHARS, chunkOverlap: env.INGEST_CHUNK_OVERLAP },
    ratePerMinute: {
      ...(env.CLASSIFY_RATE_PER_MINUTE ? { classify: env.CLASSIFY_RATE_PER_MINUTE } : {}),
      ...(env.INGEST_RATE_PER_MINUTE ? { ingest: env.INGEST_RATE_PER_MINUTE } : {}),
      ...(env.PUBLISH_RATE_PER_MINUTE ? { publish: env.PUBLISH_RATE_PER_MINUTE } : {}),
    },
    limits: {
      maxItems: env.MAX_ITEMS_PER_BATCH,
      maxActiveBatches: env.MAX_ACTIVE_BATCHES,
      submissions: defaultRate('submissions', env.RATE_LIMIT_SUBMISSIONS_PER_MINUTE, env.RATE_LIMIT_SUBMISSIONS_PER_HOUR),
      reads: defaultRate('reads', env.RATE_LIMIT_READS_PER_MINUTE, env.RATE_LIMIT_READS_PER_HOUR),
      exports: defaultRate('exports', env.RATE_LIMIT_EXPORTS_PER_MINUTE, env.RATE_LIMIT_EXPORTS_PER_HOUR),
    },
    staleBatchMinutes: env.STALE_BATCH_MINUTES,
    reconcileIntervalMs: env.RECONCILE_INTERVAL_MS,
    progressPollMs: env.PROGRESS_POLL_MS,
    keyCacheMs: env.API_KEY_CACHE_SECONDS * 1000,
    retentionDays: env.BATCH_RETENTION_DAYS,
    metrics: {
      workerPort: env.WORKER_METRICS_PORT,
      workerHost: env.WORKER_METRICS_HOST,
      core: env.TEMPORAL_CORE_METRICS === 'on',
      corePort: env.TEMPORAL_CORE_METRICS_PORT,
    },
    tracing: {
      enabled: env.BATCHFLOW_TRACING ? env.BATCHFLOW_TRACING === 'otlp' : Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT),
      endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: env.OTEL_SERVICE_NAME,
    },
    workflowBundlePath: env.WORKFLOW_BUNDLE_PATH ? path.resolve(env.WORKFLOW_BUNDLE_PATH) : undefined,
    workerIdentity: env.WORKER_IDENTITY ?? defaultWorkerIdentity(),
    ...workerDeployment(env),
    shutdown: { workerGraceMs: env.WORKER_SHUTDOWN_GRACE_MS, apiDrainMs: env.API_SHUTDOWN_DRAIN_MS },
    activitySlots: env.WORKER_ACTIVITY_SLOTS,
  };
}
