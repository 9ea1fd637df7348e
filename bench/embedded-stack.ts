/**
 * The embedded stack, what `npm start` runs (src/main/start.ts): one node process with the API,
 * the workers and PGlite (no DATABASE_URL), and the Temporal dev server as its child process. The
 * bench spawns it as one child with a data dir and ports of its own and submits over HTTP with a
 * fixed dev key, like a user of `npm start`. Peak RSS is read for both processes: the node
 * process's and the dev server's VmHWM (reset before the scenario), and the node process's
 * VmHWM since start (workflow bundling, PGlite's start and migrations included).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../src/net/free-port';
import { exited, scriptEnv, scriptNodeOptions, spawnEntry, stopEntry, type EntryProcess } from './child';
import { childrenOf, peakOf, resetPeak, rssOf } from './measure';
import { runBatchflow, type BatchflowScenario } from './batchflow-scenario';
import type { SlowTarget } from './publish-target';
import type { Row } from './report';
import { keyedFetch, type BenchStack, type Usage } from './stack';

/** It bundles the workflows, trains the classifier, starts a dev server and PGlite: slow on a busy 2-core machine. */
const START_DEADLINE_MS = 300_000;
const TAIL_LINES = 100;
const STATEMENTS = /^batchflow_db_statements_total(?:\{[^}]*\})? (\S+)$/m;

/** SIGTERM (its graceful shutdown stops the API, the workers, PGlite and the dev server), SIGKILL after 60 s. */
const stopChild = (c: EntryProcess): Promise<void> => stopEntry(c, 60_000);

export interface EmbeddedStack extends BenchStack {
  /** The node process's VmHWM from its start to the moment of the call. */
  peakSinceStart(): number;
}

/** Spawns src/main/start.ts publishing to `publishUrl`; answers once its API is serving. `env`: more settings (a trial's). */
export async function startEmbeddedStack(
  publishUrl: string,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<EmbeddedStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-bench-embedded-'));
  const [port, devPort, devUiPort] = [await freePort(), await freePort(), await freePort()];
  const key = `bf_bench_${randomBytes(16).toString('hex')}`;
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  // The embedded stack is the one without these: its own PGlite, its own dev server.
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'WORKFLOW_BUNDLE_PATH', 'NODE_TEST_CONTEXT']) delete inherited[name];
  const childEnv: NodeJS.ProcessEnv = {
    ...inherited,
    BATCHFLOW_DATA_DIR: dataDir,
    BATCHFLOW_DEV_API_KEY: key,
    PORT: String(port),
    TEMPORAL_DEV_PORT: String(devPort),
    TEMPORAL_DEV_UI_PORT: String(devUiPort),
    PUBLISH_URL: publishUrl,
    // The progress reads every 250 ms would pass the contract's 600 a minute on a long batch.
    RATE_LIMIT_READS_PER_MINUTE: '100000',
    LOG_LEVEL: 'warn',
    // What `npm start` sets before node (MALLOC_ARENA_MAX).
    ...scriptEnv('start'),
    ...env,
  };
  const stack = spawnEntry('embedded', 'src/main/start.ts', childEnv, TAIL_LINES, [...scriptNodeOptions('start'), ...nodeArgs]);
  const baseUrl = `http://127.0.0.1:${port}`;
  let connection: Connection | undefined;
  const stop = async (): Promise<void> => {
    await connection?.close();
    await stopChild(stack);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + START_DEADLINE_MS;
    for (;;) {
      if (exited(stack))
        throw new Error(`npm start exited (${stack.child.exitCode ?? stack.child.signalCode}):\n${stack.lines.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`npm start not serving after ${START_DEADLINE_MS} ms:\n${stack.lines.join('\n')}`);
      const ok = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    connection = await Connection.connect({ address: `127.0.0.1:${devPort}` });
  } catch (err) {
    await stop();
    throw err;
  }
  const pid = stack.child.pid!;
  const devServer = childrenOf(pid).find((c) => c.comm.startsWith('temporal'))?.pid;
  if (!devServer) {
    await stop();
    throw new Error(`npm start (pid ${pid}) is serving but has no temporal child process`);
  }
  log(`embedded stack pid ${pid}, its dev server pid ${devServer}: serving on ${baseUrl}`);
  const statements = async (): Promise<number> => {
    const m = STATEMENTS.exec(await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
    return m ? Number(m[1]) : NaN;
  };

  return {
    mode: 'embedded',
    key,
    client: new Client({ connection, namespace: 'default' }),
    baseUrl,
    api: keyedFetch(baseUrl, key),
    peakSinceStart: () => peakOf(pid).hwm,
    measure: async () => {
      const before = await statements();
      const procs = { 'npm start': pid, 'its dev server': devServer };
      const reset = Object.values(procs).every((p) => resetPeak(p));
      const sampled: Record<string, number> = Object.fromEntries(Object.entries(procs).map(([n, p]) => [n, rssOf(p)]));
      // Sampled as well, for a kernel that refuses clear_refs.
      const timer = setInterval(() => {
        for (const [n, p] of Object.entries(procs)) sampled[n] = Math.max(sampled[n]!, rssOf(p));
      }, 100);
      return {
        stop: async (): Promise<Usage> => {
          clearInterval(timer);
          if (exited(stack)) throw new Error(`npm start exited during the scenario:\n${stack.lines.join('\n')}`);
          const rss: Record<string, number> = {};
          for (const [n, p] of Object.entries(procs)) rss[n] = reset ? peakOf(p).hwm : Math.max(sampled[n]!, rssOf(p));
          // API and worker in one process: one count, shown in the worker's column.
          return { rss, statements: { worker: (await statements()) - before }, peakFrom: reset ? 'VmHWM' : 'VmRSS sampled every 100 ms' };
        },
      };
    },
    stop,
  };
}

/**
 * One embedded scenario: a fresh `npm start` (so the figures are of a process that ran this batch
 * only), one batch at the defaults, checked by its counts and the target. The row's peak RSS:
 * the node process over the batch, the same since its start (start-up included), its dev server.
 */
export async function runEmbedded(target: SlowTarget, s: BatchflowScenario, log: (line: string) => void): Promise<Row> {
  const stack = await startEmbeddedStack(target.url, log);
  try {
    const startUp = stack.peakSinceStart();
    const row = await runBatchflow(stack, target, s);
    if (row.rss) {
      const { 'npm start': batch = 0, ...rest } = row.rss;
      row.rss = { 'npm start': batch, 'npm start since start': Math.max(startUp, batch), ...rest };
    }
    return row;
  } finally {
    await stack.stop();
  }
}
