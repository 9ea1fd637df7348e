/**
 * A real batchflow stack for one test: a migrated database, a worker on its own task queue, and
 * the Koa app listening on a loopback port, all against the suite's Temporal dev server.
 *
 * It runs on the shipped defaults: every tuning value (retry policies, limits, publish timeout,
 * webhook policy, activity slots, chunking, rates, body size) is what `loadConfig()` makes of an
 * empty environment (SHIPPED). A test that sets one of them does so because that value is what it
 * tests, and says so where it sets it (README, "Tests").
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import pino from 'pino';
import type { ClassifyOptions } from '../../activities/stages/classify';
import type { WebhookOptions } from '../../activities/webhook';
import { appSettingsOf, createApp } from '../../src/api/app';
import { watchedRowCache } from '../../src/batches/row-cache';
import { createLiveHub, type LiveHub, type LiveHubDeps } from '../../src/api/live/hub';
import { attachWebSockets } from '../../src/api/live/ws';
import { createBatches, type Batches } from '../../src/batches';
import { DEFAULT_RETRY, loadConfig, type Config, type WorkerDeployment } from '../../src/config';
import type { RetryPolicies } from '../../src/contracts/workflow';
import type { Db } from '../../src/db/connect';
import { ensureTenant, putKey } from '../../src/db/keys';
import { bundleWorkflows, createWorkers } from '../../src/temporal/worker';
import { workerOptions } from '../../src/temporal/worker-options';
import type { Tracing } from '../../src/tracing';
import { testDb } from './db';
import { connectTemporal, suiteBundle, uniqueTaskQueue } from './temporal';

export interface Stack {
  baseUrl: string;
  /** An API key of this stack's own tenant. */
  key: string;
  tenantId: string;
  db: Db;
  client: Client;
  namespace: string;
  taskQueue: string;
  /** The worker's fs blob store root: a fresh temporary directory, removed by stop(). */
  blobDir: string;
  batches: Batches;
  /**
   * Adds another tenant with a key, for isolation tests; `limits` (the stored form, e.g.
   * `{"max_active_batches": 3}`) default to the stack's own (`{}` unless the test chose some).
   */
  addTenant(limits?: Record<string, number>): Promise<{ tenantId: string; key: string; keyId: string }>;
  /** fetch() against the stack with this stack's key. */
  api(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** The Temporal UI base in the API's temporal_ui_url (default http://localhost:8233). */
  uiUrl?: string;
  publishUrl?: string;
  /** Tuning: the stage retry policies (default SHIPPED.retry, i.e. DEFAULT_RETRY). */
  retry?: RetryPolicies;
  /** Tuning: MAX_BODY_BYTES (default SHIPPED.maxBodyBytes). */
  maxBodyBytes?: number;
  /** Tuning: PUBLISH_TIMEOUT_MS (default SHIPPED.publishTimeoutMs). */
  publishTimeoutMs?: number;
  /** Start without a worker (to test what happens while none runs). */
  noWorker?: boolean;
  /** Point the API at a Temporal that is not there, to test outages. */
  temporalClient?: Client;
  /** Another Temporal than the suite's (worker and API), e.g. a bare dev server a test started. */
  temporal?: { address: string; namespace: string };
  /** Tuning: activity slots of the normal queue's worker (default SHIPPED.activitySlots; the express queue keeps its own). */
  activitySlots?: number;
  /** The classify tiers (a core, thresholds, costs, a fallback endpoint), over the shipped thresholds and costs. */
  classify?: Partial<ClassifyOptions>;
  /**
   * Tuning: the stored limits of the stack's own key (api_keys.limits). Default `{}`: the shipped
   * defaults (SHIPPED.limits, the contract's 3 active batches, 60 submissions, 600 reads and 30
   * exports a minute). A test that needs more says why where it asks.
   */
  limits?: Record<string, number>;
  /** ALLOW_PRIVATE_CALLBACKS, for the API's check and the worker's (unless `webhook.allowPrivate` says otherwise). */
  allowPrivateCallbacks?: boolean;
  /** The worker's completion webhook options: the secret; `retry` is tuning (default SHIPPED.webhook.retry). */
  webhook?: WebhookOptions;
  /** The worker's workflow bundle as a file (`npm run build:workflows`); default the suite's bundle (suiteBundle()). */
  workflowBundle?: { codePath: string };
  /** Builds the API's live-progress hub (e.g. over a Batches that counts its calls). */
  live?: (deps: LiveHubDeps) => LiveHub;
  /** OpenTelemetry tracing for the worker (its workflows bundled with the tracing interceptors). */
  tracing?: Tracing;
  /** Worker Versioning: the deployment version the stack's workers serve (WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID). */
  deployment?: WorkerDeployment;
}

/** What the product runs with when nothing is set: loadConfig() of an empty environment. */
export const SHIPPED: Config = loadConfig({});

/**
 * Opt-in only, for a test about retries (exhaustion, backoff, what a retry redoes): the same policy
 * shapes, seconds instead of minutes. Never a default; the test says why where it uses it.
 */
export const FAST_RETRY: RetryPolicies = Object.fromEntries(
  Object.entries(DEFAULT_RETRY).map(([stage, r]) => [
    stage,
    { ...r, initialIntervalMs: 100, maximumIntervalMs: 1_000, maximumAttempts: 5, heartbeatTimeoutMs: 10_000 },
  ]),
) as RetryPolicies;

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const db = await testDb();
  const temporal = await connectTemporal(opts.temporal);
  const client = opts.temporalClient ?? temporal.client;
  const taskQueue = uniqueTaskQueue();
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const blobDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-blobs-'));

  const addTenant = async (limits = opts.limits ?? {}): Promise<{ tenantId: string; key: string; keyId: string }> => {
    const tenantId = `tenant_${randomBytes(5).toString('hex')}`;
    const key = `bf_test_${randomBytes(16).toString('hex')}`;
    await ensureTenant(db.db, tenantId);
    await putKey(db.db, `key_${tenantId}`, tenantId, key, 'test', limits);
    return { tenantId, key, keyId: `key_${tenantId}` };
  };
  const { tenantId, key } = await addTenant();

  let workers: Worker[] = [];
  let running: Promise<unknown> | undefined;
  if (!opts.noWorker) {
    // What `npm start` gives its workers (src/temporal/worker-options.ts), blobs in this test's own directory.
    const shipped = workerOptions({ ...SHIPPED, blobs: { ...SHIPPED.blobs, driver: 'fs', dir: blobDir } });
    workers = await createWorkers({
      ...shipped,
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      db: db.db,
      publishUrl: opts.publishUrl,
      publishTimeoutMs: opts.publishTimeoutMs ?? SHIPPED.publishTimeoutMs,
      workflowBundle: opts.workflowBundle ?? (opts.tracing ? await bundleWorkflows({ tracing: true }) : await suiteBundle()),
      shutdownGraceMs: SHIPPED.shutdown.workerGraceMs,
      tracing: opts.tracing,
      ...(opts.deployment ? { deployment: opts.deployment } : {}),
      classify: { ...shipped.classify, ...opts.classify },
      activitySlots: opts.activitySlots ?? SHIPPED.activitySlots,
      webhook: {
        ...shipped.webhook,
        allowPrivate: opts.allowPrivateCallbacks ?? SHIPPED.allowPrivateCallbacks,
        ...opts.webhook,
        retry: { ...SHIPPED.webhook.retry, ...opts.webhook?.retry },
      },
    });
    running = Promise.all(workers.map((w) => w.run()));
  }

  // As npm start and npm run api keep them: rows for progress reads, dropped by change notifications.
  const watched = await watchedRowCache(db.listen);
  const batches = createBatches({
    db: db.db,
    client,
    log,
    rows: watched.rows,
    taskQueue,
    namespace: temporal.namespace,
    uiUrl: opts.uiUrl ?? SHIPPED.temporal.uiUrl,
    retry: opts.retry ?? SHIPPED.retry,
    staleAfterMinutes: SHIPPED.staleBatchMinutes,
    allowPrivateCallbacks: opts.allowPrivateCallbacks ?? SHIPPED.allowPrivateCallbacks,
    // The slots of the stack's own worker, as WORKER_ACTIVITY_SLOTS gives both processes in production.
    workerSlots: opts.activitySlots ?? SHIPPED.activitySlots,
  });
  const live = (opts.live ?? createLiveHub)({ batches, log });
  const app = createApp({
    db: db.db,
    client,
    batches,
    log,
    ...appSettingsOf(SHIPPED),
    maxBodyBytes: opts.maxBodyBytes ?? SHIPPED.maxBodyBytes,
    live,
  });
  const server: Server = app.listen(0, '127.0.0.1');
  const sockets = attachWebSockets(server, app);
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl,
    key,
    tenantId,
    db,
    client: temporal.client,
    namespace: temporal.namespace,
    taskQueue,
    blobDir,
    batches,
    addTenant,
    api: (path, init = {}) => {
      const headers = new Headers(init.headers);
      const useKey = init.key === undefined ? key : init.key;
      if (useKey !== null) headers.set('x-api-key', useKey);
      if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
      return fetch(`${baseUrl}${path}`, { ...init, headers });
    },
    stop: async () => {
      await sockets.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      batches.close();
      await watched.close();
      for (const w of workers) w.shutdown();
      await running;
      await temporal.close();
      await db.close();
      fs.rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

/** Polls the batch until `done` says so, or fails after `timeoutMs`. */
export async function waitForBatch(
  stack: Stack,
  batchId: string,
  done: (body: { status: string; [k: string]: unknown }) => boolean = (b) =>
    ['completed', 'partial', 'failed', 'cancelled'].includes(b.status),
  timeoutMs = 120_000,
  key?: string,
): Promise<{ status: string; counts: Record<string, number>; [k: string]: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.api(`/v1/batches/${batchId}`, { key });
    if (res.status !== 200) throw new Error(`GET batch ${batchId} answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { status: string; counts: Record<string, number> };
    if (done(body)) return body;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} still ${body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const items = (
  n: number,
  text = (i: number) => ['cotton t-shirt crew neck', 'leather oxford shoes', 'laptop computer', 'wooden dining chair'][i % 4]!,
) => Array.from({ length: n }, (_, i) => ({ ref: `sku-${i}`, text: text(i) }));
