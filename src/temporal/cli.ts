// Finds or provisions the Temporal CLI that runs the dev server.
//
// The SDK can download the CLI itself, but that needs general internet access,
// which CI and some dev machines lack; the Go module proxy is usually reachable,
// so we build a pinned release from source and cache it outside the repo.
import { spawn } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type TemporalExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

// Later tags carry `replace` directives in go.mod, which `go install pkg@version`
// refuses, so this is the newest release we can build this way.
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

const PROGRESS_EVERY_MS = 15_000;
const LOCK_POLL_MS = 500;
// A cold build is a few minutes; anything far beyond that means the lock
// holder is wedged and a human should look rather than wait forever.
const LOCK_MAX_WAIT_MS = 30 * 60_000;

type Log = (line: string) => void;

export function cachedCliPath(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.BATCHFLOW_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'batchflow');
  // Versioned directory: bumping TEMPORAL_CLI_VERSION never reuses a stale build.
  return path.resolve(root, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

export async function resolveTemporalCli(opts: { log?: Log; env?: NodeJS.ProcessEnv } = {}): Promise<TemporalExecutable> {
  const log = opts.log ?? (() => {});
  const env = opts.env ?? process.env;

  const explicit = env.TEMPORAL_CLI_PATH;
  if (explicit) {
    // An explicit override that is wrong must fail loudly, not silently fall
    // through to some other binary.
    if (!(await isExecutableFile(explicit))) {
      throw new Error(`TEMPORAL_CLI_PATH is set to "${explicit}", which is not an executable file`);
    }
    return { type: 'existing-path', path: path.resolve(explicit) };
  }

  const onPath = await findOnPath('temporal', env);
  if (onPath) return { type: 'existing-path', path: onPath };

  const cached = cachedCliPath(env);
  if (await isExecutableFile(cached)) return { type: 'existing-path', path: cached };

  const go = await findOnPath('go', env);
  if (!go) {
    log(`temporal CLI not found and no go toolchain on PATH; the SDK will download the CLI itself`);
    return { type: 'cached-download' };
  }
  await buildPinnedCli(go, cached, log, env);
  return { type: 'existing-path', path: cached };
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await fs.stat(file)).isFile()) return false;
    await fs.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  // Empty PATH entries mean "current directory"; skip them so a stray
  // ./temporal in the repo never wins.
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.resolve(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return null;
}

async function buildPinnedCli(go: string, target: string, log: Log, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  const release = await acquireLock(path.join(dir, '.build.lock'), log);
  try {
    // Whoever held the lock before us may have just finished the same build.
    if (await isExecutableFile(target)) return;
    // Build into a private dir on the same filesystem, then rename: readers
    // never observe a half-written binary, even if the lock was bypassed.
    const gobin = await fs.mkdtemp(path.join(dir, '.build-'));
    try {
      await goInstall(go, gobin, log, env);
      await fs.rename(path.join(gobin, 'temporal'), target);
      log(`temporal CLI ${TEMPORAL_CLI_VERSION} installed at ${target}`);
    } finally {
      await fs.rm(gobin, { recursive: true, force: true });
    }
  } finally {
    await release();
  }
}

function goInstall(go: string, gobin: string, log: Log, env: NodeJS.ProcessEnv): Promise<void> {
  log(`building temporal CLI ${TEMPORAL_CLI_VERSION} with ${go} (first build takes several minutes)`);
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  // CGO off: the CLI uses pure-Go sqlite, and a static binary avoids needing a C toolchain.
  const child = spawn(go, ['install', `${CLI_PACKAGE}@${TEMPORAL_CLI_VERSION}`], {
    cwd: gobin, // keep any go.mod/go.work of the caller's cwd out of the picture
    env: { ...env, CGO_ENABLED: '0', GOBIN: gobin },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      log(line); // e.g. "go: downloading ..." so a slow proxy is visible
      tail.push(line);
      if (tail.length > 20) tail.shift();
    }
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  // Compiling prints nothing for minutes; a heartbeat shows it is not hung.
  const ticker = setInterval(() => log(`still building temporal CLI (${elapsed()} elapsed)`), PROGRESS_EVERY_MS);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearInterval(ticker);
      if (code === 0) {
        log(`temporal CLI build finished in ${elapsed()}`);
        resolve();
      } else {
        reject(new Error(`go install ${CLI_PACKAGE}@${TEMPORAL_CLI_VERSION} failed (${signal ?? `exit ${code}`}):\n${tail.join('\n')}`));
      }
    });
  });
}

// O_EXCL lock file holding the owner's pid. It only prevents two processes
// (e.g. tests and `npm start`) from compiling at once; correctness already
// comes from the atomic rename, so the rare race when breaking a stale lock
// at worst costs a duplicate build.
async function acquireLock(lockPath: string, log: Log): Promise<() => Promise<void>> {
  const started = Date.now();
  let lastNotice = started;
  for (;;) {
    try {
      const handle = await fs.open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => fs.rm(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(await fs.readFile(lockPath, 'utf8').catch(() => ''), 10);
    // No pid yet normally means the owner is between create and write; only an
    // old pid-less file (owner died in that gap) is stale.
    const stale = Number.isInteger(owner) ? !isAlive(owner) : await olderThan(lockPath, 10_000);
    if (stale) {
      log(`removing stale temporal CLI build lock ${lockPath} (owner pid ${owner} is gone)`);
      await fs.rm(lockPath, { force: true });
      continue;
    }
    const now = Date.now();
    if (now - started > LOCK_MAX_WAIT_MS) {
      throw new Error(`gave up waiting for ${lockPath} (held by pid ${owner}); remove it if that build is stuck`);
    }
    if (now - lastNotice >= PROGRESS_EVERY_MS) {
      lastNotice = now;
      log(`waiting for another process (pid ${owner}) to finish building the temporal CLI (${Math.round((now - started) / 1000)}s)`);
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}

async function olderThan(file: string, ms: number): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => null);
  return stat !== null && Date.now() - stat.mtimeMs > ms;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 only checks existence
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
