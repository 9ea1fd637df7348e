/** The environment variables batchflow reads, their types and defaults (validated by loadConfig). */
import { z } from 'zod';
import { MAX_ITEMS } from '../contracts/http';
import { DEFAULT_WEBHOOK_RETRY } from '../contracts/webhook';

const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

/** A boolean setting that is on unless turned off. */
const boolOn = z
  .enum(['true', 'false', '1', '0', ''])
  .default('true')
  .transform((v) => v !== 'false' && v !== '0');

export const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  BATCHFLOW_DATA_DIR: z.string().default('./.data'),
  BATCHFLOW_DEV_API_KEY: z.string().min(16, 'BATCHFLOW_DEV_API_KEY must be at least 16 characters').optional(),
  DATABASE_URL: z.string().optional(),
  /** How long a request waits for a PostgreSQL connection before answering 503 (the contract: within 5 s). */
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(3_000),
  /** The longest one SQL statement may run (PostgreSQL's statement_timeout); every query of ours is far shorter. */
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('batchflow'),
  TEMPORAL_UI_URL: z.string().default('http://localhost:8233'),
  /** `npm start` without TEMPORAL_ADDRESS: the ports of the dev server it starts and of its UI. */
  TEMPORAL_DEV_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  TEMPORAL_DEV_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  /**
   * The worker and `npm run migrate` add the custom search attributes the namespace lacks (through
   * Temporal's operator API). `false` where that is not allowed (Temporal Cloud: tcld or the UI).
   */
  TEMPORAL_REGISTER_SEARCH_ATTRIBUTES: boolOn,
  /**
   * How the API, the workers and the commands reach an existing Temporal (src/temporal/connection.ts),
   * under the Temporal CLI's own names for them. An API key (Temporal Cloud) is sent as a bearer
   * token and turns TLS on; the TLS_* variables are file paths (PEM) and turn it on too.
   */
  TEMPORAL_API_KEY: z.string().optional(),
  /** `true`: TLS with the system's roots; `false`: never TLS, even with an API key (a local proxy). Unset: on when anything below or an API key is set. */
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0']).optional(),
  TEMPORAL_TLS_CERT: z.string().optional(),
  TEMPORAL_TLS_KEY: z.string().optional(),
  TEMPORAL_TLS_CA: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  PUBLISH_URL: z.url().optional(),
  PUBLISH_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024 * 1024),
  ALLOW_PRIVATE_CALLBACKS: bool,
  /** The HMAC key that signs completion webhooks. Unset: `npm start` makes one and keeps it in the data dir. */
  WEBHOOK_SECRET: z.string().min(16, 'WEBHOOK_SECRET must be at least 16 characters').optional(),
  /** Completion webhook retries (defaults in src/contracts/webhook.ts): first interval, ceiling, attempts (0: no limit), window. */
  WEBHOOK_RETRY_INITIAL_MS: z.coerce.number().int().positive().default(DEFAULT_WEBHOOK_RETRY.initialIntervalMs),
  WEBHOOK_RETRY_MAX_INTERVAL_MS: z.coerce.number().int().positive().default(DEFAULT_WEBHOOK_RETRY.maximumIntervalMs),
  /** 0 (the default): no attempt limit, retried until WEBHOOK_RETRY_WINDOW_MS ends. */
  WEBHOOK_RETRY_MAX_ATTEMPTS: z.coerce
    .number()
    .int('WEBHOOK_RETRY_MAX_ATTEMPTS must be a whole number')
    .min(0, 'WEBHOOK_RETRY_MAX_ATTEMPTS must be 0 (no limit, until WEBHOOK_RETRY_WINDOW_MS ends) or a positive number of attempts')
    .default(DEFAULT_WEBHOOK_RETRY.maximumAttempts),
  WEBHOOK_RETRY_WINDOW_MS: z.coerce.number().int().positive().default(DEFAULT_WEBHOOK_RETRY.windowMs),
  /** One attempt's deadline: connect, send, and the receiver's status line. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_WEBHOOK_RETRY.attemptTimeoutMs),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** JSON overrides of the stage retry policies, e.g. {"publish":{"maximumAttempts":8}}. */
  STAGE_RETRY_JSON: z.string().optional(),
  CLASSIFY_TAXONOMY: z.string().optional(),
  CLASSIFY_CORE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.85),
  CLASSIFY_FALLBACK_THRESHOLD: z.coerce.number().min(0).max(1).default(0.7),
  CLASSIFY_FALLBACK_URL: z.url().optional(),
  CLASSIFY_FALLBACK_MODEL: z.string().default('gpt-4o-mini'),
  CLASSIFY_FALLBACK_API_KEY: z.string().optional(),
  CLASSIFY_FALLBACK_TIMEOUT_MS: z.coerce.number().int().positive().default(20_000),
  /** What one decision of each tier costs, in the billing currency. */
  CLASSIFY_COST_CORE: z.coerce.number().min(0).default(0.001),
  CLASSIFY_COST_FALLBACK: z.coerce.number().min(0).default(0.02),
  CLASSIFY_COST_HUMAN_REVIEW: z.coerce.number().min(0).default(0.5),
  BLOB_STORE: z.enum(['fs', 's3']).default('fs'),
  S3_ENDPOINT: z.string().optional(),
  S3_BUCKET: z.string().optional(),
  S3_REGION: z.string().default('us-east-1'),
  INGEST_CHUNK_CHARS: z.coerce.number().int().positive().default(1_000),
  INGEST_CHUNK_OVERLAP: z.coerce.number().int().min(0).default(100),
  CLASSIFY_RATE_PER_MINUTE: z.coerce.number().int().positive().optional(),
  INGEST_RATE_PER_MINUTE: z.coerce.number().int().positive().optional(),
  PUBLISH_RATE_PER_MINUTE: z.coerce.number().int().positive().optional(),
  /** Every key's defaults (docs/api.md "Limits"); a key's own limits override them. */
  MAX_ITEMS_PER_BATCH: z.coerce.number().int().min(1).max(MAX_ITEMS).default(MAX_ITEMS),
  MAX_ACTIVE_BATCHES: z.coerce.number().int().positive().default(3),
  /** Requests per minute per key and bucket; unset: the contract's 60, 600 and 30 (CONTRACT_LIMITS). */
  RATE_LIMIT_SUBMISSIONS_PER_MINUTE: z.coerce.number().int().positive().optional(),
  RATE_LIMIT_READS_PER_MINUTE: z.coerce.number().int().positive().optional(),
  RATE_LIMIT_EXPORTS_PER_MINUTE: z.coerce.number().int().positive().optional(),
  /** Deprecated: the former hourly settings, still honoured (with their hourly window) when the per-minute one is unset. */
  RATE_LIMIT_SUBMISSIONS_PER_HOUR: z.coerce.number().int().positive().optional(),
  RATE_LIMIT_READS_PER_HOUR: z.coerce.number().int().positive().optional(),
  RATE_LIMIT_EXPORTS_PER_HOUR: z.coerce.number().int().positive().optional(),
  /** A queued or running batch older than this is reported stale (never failed for it). */
  STALE_BATCH_MINUTES: z.coerce.number().positive().default(120),
  /** How often the API's reconcile loop checks active batches against their workflows (src/batches/reconcile.ts). */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** The pause between a read batch's progress queries: reads answer from the last one (src/batches/progress-cache.ts). */
  PROGRESS_POLL_MS: z.coerce.number().int().min(50).max(10_000).default(500),
  /** How long the API remembers a key it found (0: look every request's key up); a revocation waits at most this long. */
  API_KEY_CACHE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  /** Finished batches are deleted this many days after they finished. */
  BATCH_RETENTION_DAYS: z.coerce.number().positive().default(30),
  /** A worker process serves its own GET /metrics here (0: none). The API serves /metrics on PORT. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  WORKER_METRICS_HOST: z.string().default('0.0.0.0'),
  /** Temporal Core's Prometheus exporter, on loopback, proxied into /metrics (0: a free port; off: none). */
  TEMPORAL_CORE_METRICS: z.enum(['on', 'off']).default('on'),
  TEMPORAL_CORE_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Tracing: `otlp` exports spans over OTLP/HTTP; unset, it is on when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  BATCHFLOW_TRACING: z.enum(['otlp', 'off']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
  OTEL_SERVICE_NAME: z.string().default('batchflow'),
  /** A prebuilt workflow bundle (`npm run build:workflows`); unset, the worker bundles at start. */
  WORKFLOW_BUNDLE_PATH: z.string().optional(),
  /**
   * The identity Temporal records for this process's workers (pollers, activity attempts, the Web
   * UI's task queue view). Unset: `batchflow-worker@<hostname>`, which a container's own hostname
   * makes unique per replica; several workers on one host each set their own.
   */
  WORKER_IDENTITY: z.string().min(1).max(200).optional(),
  /**
   * Worker Versioning (Temporal's Worker Deployments), for rolling deploys: this worker serves
   * the version WORKER_DEPLOYMENT_NAME / WORKER_BUILD_ID (both or neither), and Temporal routes
   * work to a version once it is made current (`temporal worker deployment set-current-version`).
   * WORKER_VERSIONING_BEHAVIOR: `pinned` (a batch ends on the version it started on; the default)
   * or `auto-upgrade` (a running batch moves to the new current version; needs patched() changes).
   */
  WORKER_DEPLOYMENT_NAME: z.string().min(1).max(200).optional(),
  WORKER_BUILD_ID: z.string().min(1).max(200).optional(),
  WORKER_VERSIONING_BEHAVIOR: z.enum(['pinned', 'auto-upgrade']).default('pinned'),
  /** Activities one worker process runs at once on the main task queue; size it to the process's CPU and memory. */
  WORKER_ACTIVITY_SLOTS: z.coerce.number().int().positive().default(32),
  /** On SIGTERM, how long running activities may finish before they are cancelled (and retried elsewhere). */
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
  /** On SIGTERM, how long the API lets in-flight requests finish before it closes their connections. */
  API_SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(10_000),
});

export type Env = z.infer<typeof EnvSchema>;
