/**
 * Graceful shutdown of the production processes, for real: `src/main/worker.ts` and
 * `src/main/api.ts` run as child processes configured by environment only (the way the image and
 * docker-compose run them: node --require tsx/cjs, so the signal reaches the process itself), and get
 * a SIGTERM mid-work.
 *
 * The database: on PostgreSQL a schema of this test's own, shared with the children. On PGlite,
 * which serves one process at a time, a PGlite directory that the test migrates and seeds, then
 * hands to one child at a time (the worker or API holds it while it runs; the test reads it again
 * once they have exited).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import pino from 'pino';
import WebSocket from 'ws';
import { createBatches, hashRequest, toSubmission } from '../../src/batches';
import { SubmitBatch } from '../../src/contracts/http';
import { openDb, type Db } from '../../src/db/connect';
import { ensureTenant } from '../../src/db/keys';
import { migrateToLatest } from '../../src/db/migrate';
import { writeWorkflowBundle } from '../../src/temporal/bundle';
import { eventually } from '../helpers/api';
import { testDb } from '../helpers/db';
import { openSse } from '../helpers/sse';
import { startPublishTarget } from '../helpers/publish-target';
import { SHIPPED } from '../helpers/stack';
import { connectTemporal, temporalAddress, uniqueTaskQueue } from '../helpers/temporal';

Runtime.install({ logger: new DefaultLogger((process.env.TEST_SDK_LOG_LEVEL as LogLevel | undefined) ?? 'ERROR') });

const REPO_ROOT = path.join(__dirname, '..', '..');
// A child compiles the TypeScript and (the worker) trains the classifier; on a busy 2-core
// machine running other test files that has taken up to a minute.
const START_DEADLINE_MS = 180_000;
// Tuning opt-in: the shutdown grace time is what this test is about (WORKER_SHUTDOWN_GRACE_MS).
const GRACE_MS = 2_000;
const PUBLISH_LATENCY_MS = 1_200;
const PUBLISH_TIMEOUT_MS = SHIPPED.publishTimeoutMs;
// After the grace time the worker still waits for publish calls already sent (at most the publish
// timeout), then closes its connections; the rest is headroom for a loaded machine.
const WORKER_EXIT_DEADLINE_MS = GRACE_MS + PUBLISH_TIMEOUT_MS + 10_000;
const API_EXIT_DEADLINE_MS = 15_000;

/** A database the test and its children can take turns on (see the header). */
interface SharedDb {
  kind: string;
  env: NodeJS.ProcessEnv;
  /** The test's own handle; on PGlite, close it before a child opens the directory. */
  open(): Promise<Db>;
  cleanup(): Promise<void>;
}

async function sharedDb(): Promise<SharedDb> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-shutdown-'));
  if (process.env.DATABASE_URL) {
    const db = await testDb();
    return {
      kind: 'PostgreSQL schema',
      env: { DATABASE_URL: db.url, BATCHFLOW_DATA_DIR: dataDir },
      open: () => openDb({ url: db.url }),
      cleanup: async () => {
        await db.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const open = (): Promise<Db> => openDb({ pgliteDir: path.join(dataDir, 'pglite') });
  const db = await open();
  await migrateToLatest(db.db);
  await db.close();
  return {
    kind: 'PGlite directory',
    // An empty DATABASE_URL means "not set": the child opens the PGlite under its data dir.
    env: { DATABASE_URL: '', BATCHFLOW_DATA_DIR: dataDir },
    open,
    cleanup: async () => fs.rmSync(dataDir, { recursive: true, force: true }),
  };
}

interface Child {
  process: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null: killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `node --require tsx/cjs <entry>` (as the image does) and resolves once a log line matches `ready`. */
async function startChild(entry: string, env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: Child; line: string }> {
  // No metrics listener: other test files start workers too, and a fixed port would collide.
  const full: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0', ...env };
  // The test runner marks its own children; these are not test files.
  delete full.NODE_TEST_CONTEXT;
  const proc = spawn(process.execPath, ['--require', 'tsx/cjs', entry], { cwd: REPO_ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = { process: proc, output: () => `--- ${entry} (pid ${proc.pid})\n${log.join('')}`, exited };
  let timer: NodeJS.Timeout | undefined;
  const line = await new Promise<string>((resolve, reject) => {
    let pending = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      log.push(chunk.toString());
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const hit = lines.find((l) => ready.test(l));
      if (hit) resolve(hit);
    });
    proc.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()));
    void exited.then((code) => reject(new Error(`${entry} exited (${code}) before it was ready:\n${child.output()}`)));
    timer = setTimeout(() => reject(new Error(`${entry} not ready after ${START_DEADLINE_MS} ms:\n${child.output()}`)), START_DEADLINE_MS);
  }).catch(async (err: unknown) => {
    proc.kill('SIGKILL');
    await exited;
    throw err;
  });
  clearTimeout(timer);
  return { child, line };
}

/** SIGTERM, then the exit code and how long it took; SIGKILL (and a null code) after `deadlineMs`. */
async function terminate(child: Child, deadlineMs: number): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  if (child.process.exitCode !== null || child.process.signalCode !== null) return { code: child.process.exitCode, ms: 0 };
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), deadlineMs);
  const code = await child.exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - started };
}

test(
  'SIGTERM mid-batch: the worker exits 0 within its grace time, and a new worker finishes the batch with every item exactly once',
  { timeout: 600_000 },
  async (t) => {
    const shared = await sharedDb();
    const target = await startPublishTarget({ latencyMs: PUBLISH_LATENCY_MS });
    const temporal = await connectTemporal();
    const { address, namespace } = await temporalAddress();
    const taskQueue = uniqueTaskQueue();
    // The suite's prebuilt bundle (test/run.ts) when there is one; otherwise one built here.
    const bundlePath = process.env.TEST_WORKFLOW_BUNDLE ?? path.join(shared.env.BATCHFLOW_DATA_DIR!, 'workflow-bundle.js');
    const children: Child[] = [];
    const ITEMS = 96;
    try {
      t.diagnostic(`database: ${shared.kind}`);
      // The image's way: a prebuilt bundle, which also spares each child the bundling.
      if (!process.env.TEST_WORKFLOW_BUNDLE) await writeWorkflowBundle(bundlePath);
      const env: NodeJS.ProcessEnv = {
        ...shared.env,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: namespace,
        TEMPORAL_TASK_QUEUE: taskQueue,
        PUBLISH_URL: target.url,
        WORKFLOW_BUNDLE_PATH: bundlePath,
        WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      };

      // Submitted before any worker runs: the batch waits on the task queue.
      const db = await shared.open();
      const tenantId = 'acme';
      await ensureTenant(db.db, tenantId);
      const batches = createBatches({
        db: db.db,
        client: temporal.client,
        log: pino({ level: 'silent' }),
        taskQueue,
        namespace,
        uiUrl: 'http://localhost:8233',
        retry: SHIPPED.retry,
      });
      // Chunks of 48 at 8 publishes at a time and 1.2 s each: about 7 s per chunk, so the SIGTERM
      // finds a chunk running, and the 2 s grace time runs out before it is done.
      const body = SubmitBatch.parse({
        items: Array.from({ length: ITEMS }, (_, i) => ({ ref: `sku-${i}`, text: `part ${i}` })),
        stages: ['publish'],
        chunk_size: 48,
        max_parallel_chunks: 1,
      });
      const submission = toSubmission(body);
      assert.ok(submission.ok);
      const submitted = await batches.submit(tenantId, submission.value, { requestHash: hashRequest(body) });
      await db.close();

      const first = (await startChild('src/main/worker.ts', env, /"msg":"worker running/)).child;
      children.push(first);
      await eventually('the first publishes', () => target.creates.length >= 4, 120_000);
      const stopped = await terminate(first, WORKER_EXIT_DEADLINE_MS + 30_000);
      const doneByFirst = target.creates.length;
      t.diagnostic(
        `first worker: exit ${stopped.code} ${stopped.ms} ms after SIGTERM (grace ${GRACE_MS} ms); ${doneByFirst} of ${ITEMS} publishes done`,
      );
      assert.equal(stopped.code, 0, first.output());
      assert.ok(stopped.ms <= WORKER_EXIT_DEADLINE_MS, `the worker took ${stopped.ms} ms to exit`);
      assert.match(first.output(), /worker stopped/);
      assert.ok(doneByFirst < ITEMS, 'the SIGTERM came mid-batch');

      const second = (await startChild('src/main/worker.ts', env, /"msg":"worker running/)).child;
      children.push(second);
      const summary = (await temporal.client.workflow.getHandle(submitted.body.workflow_id).result()) as {
        status: string;
        counts: { published: number; failed: number };
      };
      assert.equal(summary.status, 'completed', JSON.stringify(summary));
      assert.equal(summary.counts.published, ITEMS);
      assert.equal(summary.counts.failed, 0);
      const stoppedSecond = await terminate(second, WORKER_EXIT_DEADLINE_MS + 30_000);
      assert.equal(stoppedSecond.code, 0, second.output());

      // What the chunk cut short by the grace time left behind: an attempt given up and retried
      // (the server records only the retry, with the attempt number and the failure before it).
      const history = await temporal.client.workflow.getHandle(submitted.body.workflow_id).fetchHistory();
      const retried = (history.events ?? []).flatMap((e) => {
        const started = e.activityTaskStartedEventAttributes;
        return started && (started.attempt ?? 1) > 1 ? [`attempt ${started.attempt} after: ${started.lastFailure?.message ?? '?'}`] : [];
      });
      t.diagnostic(
        `activity attempts cut short by the shutdown: ${retried.length} (${retried.join('; ')}); ${target.creates.length} publish calls for ${ITEMS} items`,
      );
      assert.ok(retried.length >= 1, 'the grace time ran out on a running chunk, which gave its attempt up');

      // Every item exactly once: one live object per ref at the target, one recorded result per item.
      assert.equal(target.items.size, ITEMS);
      assert.deepEqual(
        [...target.countByRef()].filter(([, n]) => n !== 1),
        [],
        'each ref created once',
      );
      const check = await shared.open();
      try {
        const rows = await check.db
          .selectFrom('item_results')
          .select(['ref', 'status', 'published_id'])
          .where('batch_id', '=', submitted.body.batch_id)
          .execute();
        assert.equal(rows.length, ITEMS);
        assert.deepEqual(
          rows.filter((r) => r.status !== 'succeeded'),
          [],
        );
        const ids = new Set(rows.map((r) => r.published_id));
        assert.deepEqual([...ids].sort(), [...target.items.keys()].sort(), 'each item records the one object the target holds for it');
      } finally {
        await check.close();
      }
    } finally {
      for (const c of children) await terminate(c, 30_000);
      await temporal.close();
      await target.close();
      await shared.cleanup();
    }
  },
);

test(
  'SIGTERM with live streams open: the API ends the SSE stream, closes the WebSocket with 1001, and exits 0',
  { timeout: 300_000 },
  async (t) => {
    const shared = await sharedDb();
    const temporal = await connectTemporal();
    const { address, namespace } = await temporalAddress();
    const key = `bf_test_${randomBytes(16).toString('hex')}`;
    let api: Child | undefined;
    let workflowId: string | undefined;
    try {
      t.diagnostic(`database: ${shared.kind}`);
      const started = await startChild(
        'src/main/api.ts',
        // No worker polls this task queue: the batch stays unfinished, so its streams stay open.
        {
          ...shared.env,
          PORT: '0',
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: namespace,
          TEMPORAL_TASK_QUEUE: uniqueTaskQueue(),
          BATCHFLOW_DEV_API_KEY: key,
        },
        /"msg":"api listening/,
      );
      api = started.child;
      const port = (JSON.parse(started.line) as { port: number }).port;
      const base = `http://127.0.0.1:${port}`;
      const res = await fetch(`${base}/v1/batches`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify({ items: [{ ref: 'a', text: 'leather oxford shoes' }], stages: ['publish'] }),
      });
      const batch = (await res.json()) as { batch_id: string; workflow_id: string };
      assert.equal(res.status, 202, JSON.stringify(batch));
      workflowId = batch.workflow_id;

      const sse = await openSse(`${base}/v1/batches/${batch.batch_id}/events`, { 'x-api-key': key });
      assert.equal(sse.status, 200);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/batches/${batch.batch_id}/ws`, { headers: { 'x-api-key': key } });
      const wsClosed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      let wsMessages = 0;
      ws.on('message', () => wsMessages++);
      await eventually('a first event on both streams', () => sse.events.length > 0 && wsMessages > 0, 60_000);

      const stopped = await terminate(api, API_EXIT_DEADLINE_MS + 30_000);
      t.diagnostic(`api: exit ${stopped.code} ${stopped.ms} ms after SIGTERM`);
      assert.equal(stopped.code, 0, api.output());
      assert.ok(stopped.ms <= API_EXIT_DEADLINE_MS, `the API took ${stopped.ms} ms to exit`);
      await sse.closed;
      assert.ok(sse.endedByServer(), 'the server ended the SSE stream');
      assert.ok(
        !sse.events.some((e) => ['completed', 'partial', 'failed', 'cancelled'].includes(e.event)),
        'no terminal event: the batch is still running',
      );
      const closed = await wsClosed;
      assert.equal(closed.code, 1001, `WebSocket closed with ${closed.code} ${closed.reason}`);
    } finally {
      if (api) await terminate(api, 30_000);
      if (workflowId)
        await temporal.client.workflow
          .getHandle(workflowId)
          .terminate('test over')
          .catch(() => undefined);
      await temporal.close();
      await shared.cleanup();
    }
  },
);
