/**
 * The acceptance of the stage rate limit, for real: two workers with a publish limit of 30 per
 * minute run one batch against a publish target on loopback; over two minutes, no 60-second window
 * of the target's own create times holds more than 30 publishes.
 *
 * On PostgreSQL the two workers are the production entry (`src/main/worker.ts`) as two child
 * processes, configured only through the environment, on a schema of their own. PGlite serves one
 * process only, so without DATABASE_URL the two workers are two Worker instances in this process
 * over the same database: the limiter they share is the same code and the same table either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, type LogLevel, type Worker } from '@temporalio/worker';
import type { KyselyPlugin, RootOperationNode } from 'kysely';
import pino from 'pino';
import { createBatches, hashRequest, toSubmission } from '../../src/batches';
import { SubmitBatch } from '../../src/contracts/http';
import { ensureTenant } from '../../src/db/keys';
import { createWorker } from '../../src/temporal/worker';
import { testDb, type TestDb } from '../helpers/db';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { SHIPPED } from '../helpers/stack';
import { connectTemporal, suiteBundle, temporalAddress, uniqueTaskQueue } from '../helpers/temporal';

Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const LIMIT_PER_MINUTE = 30;
const WINDOW_MS = 60_000;
const ITEMS = 70;
// 4 does not divide 30, so some grants are partial and a chunk goes through in slices.
const CHUNK_SIZE = 4;
const PARALLEL_CHUNKS = 4;
// A publish waiting for its grant holds its activity slot. With 2 slots per worker and 4 chunks
// in flight, one worker cannot hold them all, so both take part even when one of them is slow to
// poll on a busy machine (seen in CI: one worker took all 18 chunk calls).
const SLOTS_PER_WORKER = 2;
// 70 items at 30 a minute: three waves, the last about two minutes after the first.
const BATCH_DEADLINE_MS = 200_000;
// Each worker process compiles the TypeScript, trains the classifier and (run without the suite's
// bundle) bundles the workflows; on a 2-core CI machine busy with other test files that took up to a minute.
const WORKER_START_DEADLINE_MS = 180_000;
const TEST_TIMEOUT_MS = 420_000;
const REPO_ROOT = path.join(__dirname, '..', '..');

type HistoryEvent = NonNullable<History['events']>[number];

/** Two workers on one task queue, and how to tell which of them did publish work. */
interface WorkerPair {
  kind: string;
  /** Which worker took part in publishing, by a name of the worker. */
  publishersSeen(client: Client, workflowId: string): Promise<Map<string, number>>;
  names: string[];
  output(): string;
  stop(): Promise<void>;
}

test(
  'two workers with a publish limit of 30 a minute: no 60-second window holds more than 30 publishes',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const db = await testDb();
    const target = await startPublishTarget();
    const temporal = await connectTemporal();
    const taskQueue = uniqueTaskQueue();
    let workers: WorkerPair | undefined;
    try {
      workers = db.url ? await workerProcesses(db.url, taskQueue, target) : await workersInProcess(db, taskQueue, target);
      t.diagnostic(`workers: ${workers.kind}`);

      const tenantId = 'acme';
      await ensureTenant(db.db, tenantId);
      const batches = createBatches({
        db: db.db,
        client: temporal.client,
        log: pino({ level: 'silent' }),
        taskQueue,
        namespace: temporal.namespace,
        uiUrl: 'http://localhost:8233',
        retry: SHIPPED.retry,
      });
      const body = SubmitBatch.parse({
        items: Array.from({ length: ITEMS }, (_, i) => ({ ref: `sku-${i}`, text: `part ${i}` })),
        stages: ['publish'],
        chunk_size: CHUNK_SIZE,
        max_parallel_chunks: PARALLEL_CHUNKS,
      });
      const submission = toSubmission(body);
      assert.ok(submission.ok);
      const submitted = await batches.submit(tenantId, submission.value, { requestHash: hashRequest(body) });
      const handle = temporal.client.workflow.getHandle(submitted.body.workflow_id);
      const summary = (await within('the batch', handle.result(), BATCH_DEADLINE_MS, () => workers?.output() ?? '')) as { status: string };
      assert.equal(summary.status, 'completed', workers.output());

      // What the target saw: successful creates, in the order they arrived.
      const creates = target.creates
        .filter((c) => c.status === 201)
        .map((c) => c.at)
        .sort((a, b) => a - b);
      const busiest = maxInWindow(creates, WINDOW_MS);
      const first = creates[0]!;
      const span = creates[creates.length - 1]! - first;
      const inTwoMinutes = creates.filter((at) => at - first <= 2 * WINDOW_MS).length;
      t.diagnostic(
        `max publishes in any 60 s window: ${busiest}; ${creates.length} creates over ${(span / 1000).toFixed(1)} s; ${inTwoMinutes} in the first 120 s`,
      );
      assert.ok(busiest <= LIMIT_PER_MINUTE, `a 60-second window held ${busiest} publishes`);
      assert.ok(span >= 2 * WINDOW_MS, `the limit held the batch back: its publishes spread over ${span} ms`);
      assert.ok(inTwoMinutes >= 55, `${inTwoMinutes} published in the first two minutes: the limit is also used, not only respected`);

      // Every item published, none twice.
      assert.equal(target.items.size, ITEMS);
      const twice = [...target.countByRef()].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], 'no ref is published twice');

      // Both workers took part, so the limit held across them, not per worker.
      const seen = await workers.publishersSeen(temporal.client, submitted.body.workflow_id);
      t.diagnostic(`publish work by worker: ${JSON.stringify(Object.fromEntries(seen))}`);
      for (const name of workers.names)
        assert.ok((seen.get(name) ?? 0) > 0, `worker ${name} did publish work; seen: ${JSON.stringify(Object.fromEntries(seen))}`);
    } finally {
      await workers?.stop();
      await target.close();
      await temporal.close();
      await db.close();
    }
  },
);

/**
 * Fails after `ms`, so that the test's own cleanup still runs: a node:test timeout leaves the test
 * body pending, and with it the workers, which would keep the process alive.
 */
async function within<T>(what: string, promise: Promise<T>, ms: number, context: () => string = () => ''): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms\n${context()}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The most timestamps in any window of `windowMs`, sliding the window's start over each one. */
function maxInWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! - sorted[start]! <= windowMs) end++;
    best = Math.max(best, end - start);
  }
  return best;
}

/** The production worker, twice, as child processes configured by environment only. */
async function workerProcesses(databaseUrl: string, taskQueue: string, target: PublishTarget): Promise<WorkerPair> {
  const { address, namespace } = await temporalAddress();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TASK_QUEUE: taskQueue,
    PUBLISH_URL: target.url,
    // Tuning opt-in: the publish rate is what this test is about; the slots make both workers take part (SLOTS_PER_WORKER).
    PUBLISH_RATE_PER_MINUTE: String(LIMIT_PER_MINUTE),
    WORKER_ACTIVITY_SLOTS: String(SLOTS_PER_WORKER),
    // Two workers on one host cannot share the default metrics port (the second would exit).
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    // The suite's prebuilt bundle (test/run.ts), as a deployment passes one: bundling is not what
    // this test is about, and costs each worker seconds of CPU. Run on its own, each worker bundles.
    ...(process.env.TEST_WORKFLOW_BUNDLE ? { WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE } : {}),
  };
  // The test runner marks its own children; a worker is not one of them.
  delete env.NODE_TEST_CONTEXT;
  const children: Array<{ child: ChildProcess; log: string[] }> = [];
  const start = (): Promise<void> => {
    // Loaded as npm run worker and docker-compose load it (tsx's CommonJS hook, no ESM loader thread).
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'src/main/worker.ts'], {
      cwd: REPO_ROOT,
      env: { ...env, WORKER_IDENTITY: identityOf(children.length) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: string[] = [];
    children.push({ child, log });
    return new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        log.push(chunk.toString());
        // Logged once the workers are built (workflows bundled); they poll right after.
        if (chunk.toString().includes('"msg":"worker running')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
      child.once('exit', (code) => reject(new Error(`worker ${child.pid} exited (${code}) before running:\n${log.join('')}`)));
    });
  };
  const output = (): string => children.map(({ child, log }) => `--- worker ${child.pid}\n${log.join('')}`).join('\n');
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(({ child }) => stopChild(child)));
  };
  try {
    await within('two worker processes running', Promise.all([start(), start()]), WORKER_START_DEADLINE_MS, output);
  } catch (err) {
    await stop();
    throw err;
  }
  // Started activities name the worker that ran them: its WORKER_IDENTITY.
  const names = children.map((_, i) => identityOf(i));
  return {
    kind: `two processes (pids ${children.map(({ child }) => child.pid).join(', ')})`,
    names,
    output,
    stop,
    publishersSeen: async (client, workflowId) => {
      const events: HistoryEvent[] = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const typeOf = new Map<string, string>();
      for (const e of events) {
        const type = e.activityTaskScheduledEventAttributes?.activityType?.name;
        if (type) typeOf.set(String(e.eventId), type);
      }
      const seen = new Map<string, number>();
      for (const e of events) {
        const started = e.activityTaskStartedEventAttributes;
        if (!started || typeOf.get(String(started.scheduledEventId)) !== 'publish') continue;
        seen.set(started.identity ?? '?', (seen.get(started.identity ?? '?') ?? 0) + 1);
      }
      return seen;
    },
  };
}

/** The n-th worker process's WORKER_IDENTITY: two workers on one host each name themselves. */
const identityOf = (n: number): string => `rate-worker-${n + 1}@${os.hostname()}`;

/** SIGTERM (the worker's graceful shutdown), then SIGKILL if it has not exited after 20 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/**
 * PGlite: two Worker instances in this process on the same database. Both run in one process, so
 * they share an identity in the history; each gets its own view of the database instead, which
 * counts the items its limiter takes grant. Each has its own connection too: the SDK refuses a
 * second worker for the same task queue on one connection.
 */
async function workersInProcess(db: TestDb, taskQueue: string, target: PublishTarget): Promise<WorkerPair> {
  const bundle = await suiteBundle();
  const granted = new Map<string, number>();
  const names = ['worker-a', 'worker-b'];
  const started: Array<{ worker?: Worker; running?: Promise<void>; close(): Promise<void> }> = [];
  const stop = async (): Promise<void> => {
    for (const s of started) s.worker?.shutdown();
    await Promise.all(started.map((s) => s.running));
    await Promise.all(started.map((s) => s.close()));
  };
  try {
    for (const name of names) {
      const temporal = await connectTemporal();
      const entry: (typeof started)[number] = { close: () => temporal.close() };
      started.push(entry);
      entry.worker = await createWorker({
        connection: temporal.nativeConnection,
        namespace: temporal.namespace,
        taskQueue,
        db: db.db.withPlugin(grantCounter((n) => granted.set(name, (granted.get(name) ?? 0) + n))),
        publishUrl: target.url,
        // Tuning opt-in: the publish rate is what this test is about; the slots make both workers take part (SLOTS_PER_WORKER).
        ratePerMinute: { publish: LIMIT_PER_MINUTE },
        activitySlots: SLOTS_PER_WORKER,
        workflowBundle: bundle,
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  for (const s of started) s.running = s.worker!.run();
  return {
    kind: 'two Worker instances in this process (PGlite)',
    names,
    output: () => '',
    publishersSeen: async () => granted,
    stop,
  };
}

/**
 * A query plugin that reports what the limiter's statement granted. It recognises the statement by
 * the table it logs grants in, and reads `granted` from its answer; other queries pass untouched.
 */
function grantCounter(onGrant: (n: number) => void): KyselyPlugin {
  const takes = new Set<string>();
  const isTake = (node: RootOperationNode): boolean =>
    node.kind === 'RawNode' && node.sqlFragments.join('').includes('insert into rate_events');
  return {
    transformQuery: ({ node, queryId }) => {
      if (isTake(node)) takes.add(queryId.queryId);
      return node;
    },
    transformResult: async ({ result, queryId }) => {
      if (takes.delete(queryId.queryId)) onGrant(Number((result.rows[0] as { granted?: number } | undefined)?.granted ?? 0));
      return result;
    },
  };
}
