/**
 * The bench's stack on PostgreSQL, the way production runs it: the API (src/main/api.ts) and the
 * worker (src/main/worker.ts) as two child processes configured by the environment only, on the
 * bench's schema and dev server. Started once for every scenario (a child takes tens of seconds
 * to start on a loaded machine); each scenario resets the children's peak RSS and reads their
 * statement counters (batchflow_db_statements_total on each one's /metrics) before and after.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Db } from '../src/db/connect';
import { createKey } from '../src/db/keys';
import type { DevServer } from '../src/temporal/dev-server';
import { LIMITS, keyedFetch, type BenchStack, type Usage } from './stack';
import { freePort } from '../src/net/free-port';
import { exited, scriptEnv, scriptNodeOptions, spawnEntry, stopEntry } from './child';

/** A child compiles TypeScript and trains the classifier: slow on a busy 2-core machine. */
const START_DEADLINE_MS = 240_000;
const TAIL_LINES = 100;
const STATEMENTS = /^batchflow_db_statements_total(?:\{[^}]*\})? (\S+)$/m;

interface Child {
  name: string;
  child: ChildProcess;
  lines: string[];
  metricsUrl: string;
  /** Whether the kernel let us reset VmHWM (clear_refs); if not, the peak is sampled VmRSS. */
  hwmReset: boolean;
  sampled: number;
}

function spawnChild(name: string, entry: string, env: NodeJS.ProcessEnv, metricsUrl: string, nodeArgs: string[] = []): Child {
  return { name, ...spawnEntry(name, entry, env, TAIL_LINES, nodeArgs), metricsUrl, hwmReset: false, sampled: 0 };
}

async function waitHealthy(c: Child, url: string): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  while (Date.now() < deadline) {
    if (exited(c)) throw new Error(`the ${c.name} exited (${c.child.exitCode ?? c.child.signalCode}) during start:\n${c.lines.join('\n')}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the ${c.name}: ${url} not healthy after ${START_DEADLINE_MS} ms:\n${c.lines.join('\n')}`);
}

/** SIGTERM (graceful shutdown), SIGKILL after 30 s. */
const stopChild = (c: Child): Promise<void> => stopEntry(c, 30_000);

function status(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+). */
function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function statements(c: Child): Promise<number> {
  const res = await fetch(c.metricsUrl, { signal: AbortSignal.timeout(10_000) });
  const m = STATEMENTS.exec(await res.text());
  if (!m) throw new Error(`the ${c.name}'s /metrics has no batchflow_db_statements_total`);
  return Number(m[1]);
}

/**
 * Spawns the API and the worker on `db`'s schema (`schemaUrl`: DATABASE_URL with its search_path)
 * with one key of generous limits, and answers once both are serving. `workerNodeArgs`: options
 * for the worker's node (the profile's `--cpu-prof`, written when the worker exits on stopWorker).
 */
export async function startProcessStack(
  server: DevServer,
  db: Db,
  schemaUrl: string,
  publishUrl: string,
  bundle: WorkflowBundleWithSourceMap,
  log: (line: string) => void,
  workerNodeArgs: string[] = [],
): Promise<BenchStack> {
  const { key } = await createKey(db.db, { tenantId: `bench_${randomBytes(5).toString('hex')}`, label: 'bench', limits: LIMITS });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-bench-'));
  // The bench has bundled the workflows already: the worker loads them as a prebuilt bundle
  // (WORKFLOW_BUNDLE_PATH, as a deployment does) instead of running webpack again.
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);
  const [port, workerMetricsPort] = [await freePort(), await freePort()];
  const common: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: schemaUrl,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: server.namespace,
    TEMPORAL_TASK_QUEUE: `bench-${randomBytes(6).toString('hex')}`,
    BATCHFLOW_DATA_DIR: dataDir,
    PUBLISH_URL: publishUrl,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    PORT: String(port),
    WORKER_METRICS_PORT: String(workerMetricsPort),
    WORKER_METRICS_HOST: '127.0.0.1',
    // info would log every request; start-up failures still show at warn and error.
    LOG_LEVEL: 'warn',
  };
  // The bench's key is the only one; a dev key would be another tenant's business.
  delete common.BATCHFLOW_DEV_API_KEY;
  delete common.NODE_TEST_CONTEXT;
  const baseUrl = `http://127.0.0.1:${port}`;
  // Each with its npm script's node options, as `npm run api` and `npm run worker` start them.
  const api = spawnChild('API', 'src/main/api.ts', { ...common, ...scriptEnv('api') }, `${baseUrl}/metrics`, scriptNodeOptions('api'));
  const worker = spawnChild(
    'worker',
    'src/main/worker.ts',
    { ...common, ...scriptEnv('worker') },
    `http://127.0.0.1:${workerMetricsPort}/metrics`,
    [...scriptNodeOptions('worker'), ...workerNodeArgs],
  );
  const children = [api, worker];
  const connection = await Connection.connect({ address: server.address });
  const stop = async (): Promise<void> => {
    await stopChild(api);
    await stopChild(worker);
    await connection.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await Promise.all([waitHealthy(api, `${baseUrl}/healthz`), waitHealthy(worker, worker.metricsUrl)]);
  } catch (err) {
    await stop();
    throw err;
  }
  log(`API pid ${api.child.pid}, worker pid ${worker.child.pid}: serving`);

  return {
    mode: 'processes',
    key,
    client: new Client({ connection, namespace: server.namespace }),
    db: db.db,
    baseUrl,
    api: keyedFetch(baseUrl, key),
    measure: async () => {
      const running = children.filter((c) => !exited(c));
      const before = new Map<Child, number>();
      for (const c of running) {
        before.set(c, await statements(c));
        c.hwmReset = resetPeak(c.child.pid!);
        c.sampled = status(c.child.pid!, 'VmRSS');
      }
      // Sampled as well, for a kernel that refuses clear_refs.
      const timer = setInterval(() => {
        for (const c of running) c.sampled = Math.max(c.sampled, status(c.child.pid!, 'VmRSS'));
      }, 100);
      return {
        stop: async (): Promise<Usage> => {
          clearInterval(timer);
          const usage: Usage = { rss: {}, statements: {}, peakFrom: 'VmHWM' };
          for (const c of running) {
            if (exited(c))
              throw new Error(
                `the ${c.name} exited (${c.child.exitCode ?? c.child.signalCode}) during the scenario:\n${c.lines.join('\n')}`,
              );
            usage.rss[c.name] = c.hwmReset ? status(c.child.pid!, 'VmHWM') : Math.max(c.sampled, status(c.child.pid!, 'VmRSS'));
            if (!c.hwmReset) usage.peakFrom = 'VmRSS sampled every 100 ms';
            usage.statements[c.name] = (await statements(c)) - before.get(c)!;
          }
          return usage;
        },
      };
    },
    stopWorker: () => stopChild(worker),
    stop,
  };
}
