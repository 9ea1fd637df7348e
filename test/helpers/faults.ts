/**
 * What the fault suite (test/faults) shares: the production entries (`src/main/worker.ts`,
 * `src/main/api.ts`) as child processes configured by environment only, a PostgreSQL schema of
 * the case's own, waits on conditions that survive the fault being injected, and the end-of-case
 * check that every item is final and the publish target holds each success exactly once.
 *
 * Child processes need a database they can share, so the suite runs on PostgreSQL only (PGlite
 * serves one process): DATABASE_URL when it is set, else the local cluster at FALLBACK_URL.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../../src/db/connect';
import { schemaDb, type TestDb } from './db';
import type { PublishTarget } from './publish-target';
import { freePort } from '../../src/net/free-port';

export { freePort };

export const REPO_ROOT = path.join(__dirname, '..', '..');
export const FALLBACK_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEV_KEY = 'bf_faults_dev_key_0123456789';
export const FINAL_ITEM = ['succeeded', 'failed', 'needs_review', 'compensated', 'cancelled', 'orphaned'];
export const FINAL_BATCH = ['completed', 'partial', 'failed', 'cancelled'];
// Each child compiles the TypeScript; a worker also trains the classifier and bundles the
// workflows. On a loaded 2-core machine that took up to a minute (test/workflow/rate-limit.test.ts).
export const START_DEADLINE_MS = 180_000;
/**
 * Tuning opt-in: how the stages retry through a fault is what this suite is about. Quick stage
 * retries so a case spends its time on faults, not backoff; a killed worker's activities are
 * noticed by the heartbeat timeout (chunks heartbeat at least every 2 s).
 */
export const FAST_STAGE_RETRY = JSON.stringify(
  Object.fromEntries(
    ['classify', 'ingest', 'publish'].map((s) => [
      s,
      { initialIntervalMs: 200, maximumIntervalMs: 2_000, heartbeatTimeoutMs: 10_000, maximumAttempts: 30 },
    ]),
  ),
);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a wait reports on failure, and a process that died by itself (no point waiting on). */
export interface Watch {
  output(): string;
  crashed(): string | undefined;
}

/**
 * Polls `probe` until it answers something truthy. A probe that throws (the database or the API is
 * down: that is the fault under test) counts as "not yet"; its last error is in the timeout message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs: number,
  watch?: Watch,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const context = (): string => watch?.output() ?? '';
  let lastError: unknown;
  for (;;) {
    const crashed = watch?.crashed();
    if (crashed) throw new Error(`waiting for ${what}: ${crashed}\n${context()}`);
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}\n${context()}`,
      );
    }
    await sleep(200);
  }
}

/** The PostgreSQL the case's processes share: DATABASE_URL, else FALLBACK_URL; fails clearly if unreachable. */
export async function sharedPostgresUrl(): Promise<string> {
  const url = process.env.DATABASE_URL || FALLBACK_URL;
  if (!/^postgres(ql)?:\/\//.test(url))
    throw new Error(
      `the fault suite needs PostgreSQL (its API and workers are separate processes; PGlite serves one): DATABASE_URL=${url} is not a postgres:// URL`,
    );
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await probe.connect();
    await probe.query('select 1');
  } catch (err) {
    throw new Error(
      `the fault suite needs PostgreSQL (its API and workers are separate processes; PGlite serves one): ${url} is not reachable: ${(err as Error).message}. Set DATABASE_URL.`,
      { cause: err },
    );
  } finally {
    await probe.end().catch(() => {});
  }
  return url;
}

export type SchemaDb = TestDb & { url: string };

export interface CaseEnv {
  databaseUrl: string;
  temporal: { address: string; namespace: string };
  taskQueue: string;
  dataDir: string;
  publishUrl: string;
  publishTimeoutMs?: number;
}

/**
 * The environment both entries read (src/config/env.ts), everything on loopback and free ports.
 * Everything else is the shipped default (limits, publish timeout unless the case is about it,
 * shutdown times, Core metrics), except the stage retries (FAST_STAGE_RETRY, see there).
 */
export function processEnv(c: CaseEnv, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: c.databaseUrl,
    TEMPORAL_ADDRESS: c.temporal.address,
    TEMPORAL_NAMESPACE: c.temporal.namespace,
    TEMPORAL_TASK_QUEUE: c.taskQueue,
    BATCHFLOW_DATA_DIR: c.dataDir,
    BATCHFLOW_DEV_API_KEY: DEV_KEY,
    PUBLISH_URL: c.publishUrl,
    ...(c.publishTimeoutMs !== undefined ? { PUBLISH_TIMEOUT_MS: String(c.publishTimeoutMs) } : {}),
    STAGE_RETRY_JSON: FAST_STAGE_RETRY,
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    PORT: '0',
    ...extra,
  };
  // The test runner marks its own children; these processes are not tests.
  delete env.NODE_TEST_CONTEXT;
  return env;
}

export function tempDataDir(): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-faults-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface Child {
  name: string;
  pid: number;
  /** WORKER_IDENTITY: what Temporal records for a worker's polls and activities. */
  identity: string;
  /** The API's bound port (API children only). */
  port?: number;
  output(): string;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM (graceful), SIGKILL after 20 s; nothing if it already exited. */
  stop(): Promise<void>;
  /** Set when the process exited without kill() or stop(): it crashed. */
  crashed(): string | undefined;
}

const READY = { worker: '"msg":"worker running', api: '"msg":"api listening' } as const;

/**
 * Starts the production entry `src/main/<entry>.ts` and waits for its ready log line. `built`: a
 * directory laid out as the image is (package.json, a production node_modules, `npm run build`'s
 * dist/): the compiled `dist/src/main/<entry>.js` runs there, with node alone.
 */
export async function startChild(name: string, entry: 'worker' | 'api', env: NodeJS.ProcessEnv, built?: string): Promise<Child> {
  const args = built ? [path.join(built, 'dist', 'src', 'main', `${entry}.js`)] : ['--import', 'tsx', `src/main/${entry}.ts`];
  // Several workers on one host: each is named (WORKER_IDENTITY), and its activities say which it was.
  const identity = env.WORKER_IDENTITY ?? `${name}-${randomBytes(3).toString('hex')}@${os.hostname()}`;
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: built ?? REPO_ROOT,
    env: { ...env, WORKER_IDENTITY: identity },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  // The last lines only: a worker logs every retry, and a case runs for minutes.
  const keep = (s: string): void => {
    log.push(s);
    if (log.length > 300) log.splice(0, log.length - 300);
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const output = (): string => `--- ${name} (pid ${child.pid})\n${log.join('')}`;
  let port: number | undefined;
  let stopping = false;
  let crash: string | undefined;
  void exited.then(({ code, signal }) => {
    if (!stopping) crash = `${name} (pid ${child.pid}) exited by itself (${code ?? signal})`;
  });
  const ready = new Promise<void>((resolve, reject) => {
    // Whole lines only (a chunk may end mid-line), and only until the ready line has been seen.
    let partial = '';
    let seen = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      keep(text);
      if (seen) return;
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      const line = lines.find((l) => l.includes(READY[entry]));
      if (!line) return;
      seen = true;
      if (entry === 'api') port = (JSON.parse(line) as { port: number }).port;
      resolve();
    });
    child.stderr!.on('data', (chunk: Buffer) => keep(chunk.toString()));
    void exited.then(({ code, signal }) => reject(new Error(`${name} exited (${code ?? signal}) before it was ready\n${output()}`)));
  });
  const kill = async (signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const handle: Child = {
    name,
    pid: child.pid!,
    identity,
    output,
    kill,
    crashed: () => crash,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await kill('SIGTERM');
      clearTimeout(timer);
    },
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`${name}: not ready after ${START_DEADLINE_MS} ms\n${output()}`)), START_DEADLINE_MS)),
      ),
    ]);
  } catch (err) {
    await handle.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { ...handle, port };
}

/** fetch() against an API child with the dev key. */
export function apiFetch(baseUrl: string, route: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('x-api-key', DEV_KEY);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  return fetch(`${baseUrl}${route}`, { ...init, headers, signal: init.signal ?? AbortSignal.timeout(30_000) });
}

export async function submitBatch(baseUrl: string, body: Record<string, unknown>): Promise<{ batchId: string; workflowId: string }> {
  const res = await apiFetch(baseUrl, '/v1/batches', { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.json()) as { batch_id: string; workflow_id: string };
  assert.equal(res.status, 202, JSON.stringify(json));
  return { batchId: json.batch_id, workflowId: json.workflow_id };
}

/** Items that clearly belong to one heading each, so the classifier decides them all. */
export const catalogItems = (n: number): Array<{ ref: string; text: string }> =>
  Array.from({ length: n }, (_, i) => ({
    ref: `sku-${i}`,
    text: ['cotton t-shirt crew neck', 'leather oxford shoes', 'laptop computer', 'wooden dining chair'][i % 4]!,
  }));

/** Items of the batch in a final state, per the database. */
export async function finishedItems(db: Db, batchId: string): Promise<number> {
  const row = await db.db
    .selectFrom('item_results')
    .select(sql<number>`count(*)`.as('n'))
    .where('batch_id', '=', batchId)
    .where('status', 'in', FINAL_ITEM as never[])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Waits until at least `n` items are final (per the database), tolerating the fault under way. */
export const waitForFinished = (db: Db, batchId: string, n: number, timeoutMs: number, watch?: Watch): Promise<number> =>
  waitFor(
    `${n} finished items`,
    async () => {
      const done = await finishedItems(db, batchId);
      return done >= n ? done : undefined;
    },
    timeoutMs,
    watch,
  );

interface BatchBody {
  status: string;
  total_items: number;
  counts: Record<string, number>;
}

/** Polls the API until the batch is final; fetch errors (the API restarting) count as "not yet". */
export const waitForEnd = (baseUrl: () => string, batchId: string, timeoutMs: number, watch?: Watch): Promise<BatchBody> =>
  waitFor(
    `batch ${batchId} to end`,
    async () => {
      const res = await apiFetch(baseUrl(), `/v1/batches/${batchId}`);
      if (res.status !== 200) throw new Error(`GET batch answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as BatchBody;
      return FINAL_BATCH.includes(body.status) ? body : undefined;
    },
    timeoutMs,
    watch,
  );

interface ItemBody {
  ref: string;
  status: string;
  published_id: string | null;
}

async function apiItems(baseUrl: string, batchId: string): Promise<ItemBody[]> {
  const out: ItemBody[] = [];
  let cursor: string | null = null;
  do {
    const res = await apiFetch(baseUrl, `/v1/batches/${batchId}/items?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(res.status, 200, await res.clone().text());
    const page = (await res.json()) as { items: ItemBody[]; next_cursor: string | null };
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/**
 * The end of every case: the batch and each item are final per the database and per the API, the
 * two agree, and the target holds each succeeded ref exactly once (at the id the item records) and
 * nothing of an item that did not succeed (an orphan, reported as such, is the one exception).
 */
export async function assertFinalState(
  t: TestContext,
  c: { db: Db; baseUrl: string; batchId: string; total: number; target: PublishTarget; expectStatus?: string },
): Promise<{ checked: number; duplicates: number }> {
  const res = await apiFetch(c.baseUrl, `/v1/batches/${c.batchId}`);
  const batch = (await res.json()) as BatchBody;
  assert.ok(FINAL_BATCH.includes(batch.status), `batch ended ${batch.status}`);
  if (c.expectStatus) assert.equal(batch.status, c.expectStatus, JSON.stringify(batch.counts));
  assert.equal(batch.total_items, c.total);
  assert.equal(batch.counts.pending ?? 0, 0, `pending count: ${JSON.stringify(batch.counts)}`);

  const rows = await c.db.db
    .selectFrom('batch_items as i')
    .leftJoin('item_results as r', (j) => j.onRef('r.batch_id', '=', 'i.batch_id').onRef('r.seq', '=', 'i.seq'))
    .select(['i.ref', 'r.status', 'r.published_id', 'r.published'])
    .where('i.batch_id', '=', c.batchId)
    .execute();
  assert.equal(rows.length, c.total, 'one batch_items row per item');
  const notFinal = rows.filter((r) => !FINAL_ITEM.includes(r.status ?? 'pending'));
  assert.deepEqual(notFinal.slice(0, 5), [], `${notFinal.length} items not final in the database`);

  const items = await apiItems(c.baseUrl, c.batchId);
  assert.equal(items.length, c.total, 'the API lists every item');
  const byRef = new Map(rows.map((r) => [r.ref, r]));
  for (const item of items) {
    assert.ok(FINAL_ITEM.includes(item.status), `API: ${item.ref} is ${item.status}`);
    assert.equal(item.status, byRef.get(item.ref)?.status, `API and database agree on ${item.ref}`);
  }

  const live = c.target.countByRef();
  const duplicates = [...live].filter(([, n]) => n > 1);
  let succeeded = 0;
  const wrong: string[] = [];
  for (const item of items) {
    const n = live.get(item.ref) ?? 0;
    if (item.status === 'succeeded' && item.published_id) {
      succeeded++;
      if (n !== 1 || c.target.items.get(item.published_id)?.ref !== item.ref) wrong.push(`${item.ref} succeeded, ${n} at the target`);
    } else if (item.status !== 'orphaned' && n !== 0) {
      wrong.push(`${item.ref} ${item.status} but ${n} at the target`);
    }
  }
  t.diagnostic(
    `items checked: ${items.length}; succeeded: ${succeeded}; at the target: ${c.target.items.size}; duplicates found: ${duplicates.length}; counts: ${JSON.stringify(batch.counts)}`,
  );
  assert.deepEqual(duplicates, [], 'no ref is published twice');
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} items disagree with the target`);
  return { checked: items.length, duplicates: duplicates.length };
}

export interface FaultCase extends Watch {
  db: SchemaDb;
  target: PublishTarget;
  taskQueue: string;
  /** Every child started so far, for failure output and cleanup. */
  children: Child[];
  startWorker(name: string, extra?: Record<string, string>): Promise<Child>;
  /** The API on `port` (a fixed one lets a restarted API keep its address); `extra` env, e.g. a shorter RECONCILE_INTERVAL_MS. */
  startApi(name: string, port: number, extra?: Record<string, string>): Promise<Child>;
  output(): string;
  close(): Promise<void>;
}

/** A case's own schema, publish target, data dir and task queue; children started on demand. */
export async function openCase(opts: {
  databaseUrl: string;
  temporal: { address: string; namespace: string };
  target: PublishTarget;
  publishTimeoutMs?: number;
}): Promise<FaultCase> {
  const db = await schemaDb(opts.databaseUrl, 'faults', 3);
  const data = tempDataDir();
  const taskQueue = `faults-${randomBytes(6).toString('hex')}`;
  const children: Child[] = [];
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv =>
    processEnv(
      {
        databaseUrl: db.url,
        temporal: opts.temporal,
        taskQueue,
        dataDir: data.dir,
        publishUrl: opts.target.url,
        publishTimeoutMs: opts.publishTimeoutMs,
      },
      extra,
    );
  const track = async (started: Promise<Child>): Promise<Child> => {
    const child = await started;
    children.push(child);
    return child;
  };
  return {
    db,
    target: opts.target,
    taskQueue,
    children,
    startWorker: (name, extra) => track(startChild(name, 'worker', env(extra))),
    startApi: (name, port, extra) => track(startChild(name, 'api', env({ ...extra, PORT: String(port) }))),
    output: () => children.map((c) => c.output()).join('\n'),
    crashed: () => children.map((c) => c.crashed()).find(Boolean),
    close: async () => {
      await Promise.all(children.map((c) => c.stop()));
      await opts.target.close();
      await db.close().catch(() => {});
      data.remove();
    },
  };
}
