/**
 * batchflow as a new user starts it: `src/main/start.ts` (what `npm start` runs) in a process of its
 * own, with no setting but its port, its data directory and ALLOW_PRIVATE_CALLBACKS (so webhooks
 * may reach a receiver on loopback). Everything else is the shipped default: its own Temporal dev
 * server on 7233 (UI 8233), embedded PGlite, the built-in catalog, the default limits, retries
 * and webhook policy. Nothing of the test process's environment leaks in (not DATABASE_URL, not
 * a tuning variable): only what finds programs and the Temporal CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnEntry, type EntryProcess } from '../../bench/child';
import { freePort } from '../../src/net/free-port';

export interface Shipped {
  baseUrl: string;
  /** The development key the stack made and wrote to its data directory. */
  key: string;
  dataDir: string;
  /** fetch() against the stack with its key. */
  api(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /** The tail of its console, for a failing test's message. */
  log(): string;
  stop(): Promise<void>;
}

/** Where the Temporal CLI is found (not tuning): the same binary the suite uses. */
const LOCATING = [
  'PATH',
  'HOME',
  'TEMPORAL_CLI_PATH',
  'BATCHFLOW_CACHE_DIR',
  'XDG_CACHE_HOME',
  'GOPATH',
  'GOCACHE',
  'GOMODCACHE',
  'GOPROXY',
  'TMPDIR',
];
/** A cold start bundles the workflows and opens PGlite; on a loaded 2-core machine that takes a while. */
const START_TIMEOUT_MS = 240_000;

/**
 * `extra`: settings a test is about (an existing Temporal and how to reach it), on top of the
 * shipped ones; nothing else of the test's environment gets in.
 */
export async function startShipped(extra: Record<string, string> = {}): Promise<Shipped> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-shipped-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = Object.fromEntries(LOCATING.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
  Object.assign(env, { PORT: String(port), BATCHFLOW_DATA_DIR: dataDir, ALLOW_PRIVATE_CALLBACKS: 'true' }, extra);
  const entry: EntryProcess = spawnEntry('start', 'src/main/start.ts', env, 200);
  const baseUrl = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => entry.child.once('exit', (code) => resolve(code)));
  const log = (): string => entry.lines.join('\n');

  const deadline = Date.now() + START_TIMEOUT_MS;
  let early: number | null | undefined;
  void exited.then((code) => (early = code));
  for (;;) {
    if (early !== undefined) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`npm start exited with ${early} before it served:\n${log()}`);
    }
    const ok = await fetch(`${baseUrl}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok && fs.existsSync(path.join(dataDir, 'dev-api-key'))) break;
    if (Date.now() > deadline) {
      entry.child.kill('SIGKILL');
      throw new Error(`npm start did not become ready in ${START_TIMEOUT_MS / 1000} s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const key = fs.readFileSync(path.join(dataDir, 'dev-api-key'), 'utf8').trim();

  return {
    baseUrl,
    key,
    dataDir,
    log,
    api: (p, init = {}) => {
      const headers = new Headers(init.headers);
      const useKey = init.key === undefined ? key : init.key;
      if (useKey !== null) headers.set('x-api-key', useKey);
      if (init.body !== undefined && typeof init.body === 'string' && !headers.has('content-type'))
        headers.set('content-type', 'application/json');
      return fetch(`${baseUrl}${p}`, { ...init, headers });
    },
    stop: async () => {
      // SIGTERM is how a user stops it (Ctrl-C is SIGINT; both drain): it must end by itself.
      entry.child.kill('SIGTERM');
      const timer = setTimeout(() => entry.child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
