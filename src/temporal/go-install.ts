// Pinned Go builds cached outside the repo: the Temporal CLI (./cli), and the Temporal server,
// its schema tool and the Web UI server (./server-build) that the cluster test runs.
//
// The SDK can download the CLI itself, but that needs general internet access, which CI and some
// dev machines lack; the Go module proxy is usually reachable, so we build pinned releases from
// source. A build goes to a private directory and is renamed into place, under a lock, so readers
// never see half a binary and two processes never compile the same thing at once.
import { spawn } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type Log = (line: string) => void;

const PROGRESS_EVERY_MS = 15_000;
const LOCK_POLL_MS = 500;
// A cold build is a few minutes; anything far beyond that means the lock
// holder is wedged and a human should look rather than wait forever.
const LOCK_MAX_WAIT_MS = 30 * 60_000;

/** BATCHFLOW_CACHE_DIR, else $XDG_CACHE_HOME/batchflow, else ~/.cache/batchflow. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(
    env.BATCHFLOW_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'batchflow'),
  );
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await fs.stat(file)).isFile()) return false;
    await fs.access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  // Empty PATH entries mean "current directory"; skip them so a stray
  // ./temporal in the repo never wins.
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.resolve(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/**
 * Runs `fill(tmp)` to populate a fresh directory next to `target`, then renames it to `target`,
 * under `target`'s lock; nothing happens when `done()` is already true (someone else built it).
 */
export async function buildInto(
  target: string,
  what: string,
  log: Log,
  done: () => Promise<boolean>,
  fill: (tmp: string) => Promise<void>,
): Promise<void> {
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const release = await acquireLock(`${target}.lock`, what, log);
  try {
    // Whoever held the lock before us may have just finished the same build.
    if (await done()) return;
    const tmp = await fs.mkdtemp(path.join(parent, `.build-${path.basename(target)}-`));
    try {
      await fill(tmp);
      await fs.rm(target, { recursive: true, force: true });
      await fs.rename(tmp, target);
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  } finally {
    await release();
  }
}

/** `go install pkg@version` with GOBIN=gobin, CGO off (static binaries, no C toolchain needed). */
export function goInstall(go: string, pkgAtVersion: string, gobin: string, what: string, log: Log, env: NodeJS.ProcessEnv): Promise<void> {
  log(`building ${what} with ${go} (first build takes several minutes)`);
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  const child = spawn(go, ['install', pkgAtVersion], {
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
  const ticker = setInterval(() => log(`still building ${what} (${elapsed()} elapsed)`), PROGRESS_EVERY_MS);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearInterval(ticker);
      if (code === 0) {
        log(`${what} build finished in ${elapsed()}`);
        resolve();
      } else {
        reject(new Error(`go install ${pkgAtVersion} failed (${signal ?? `exit ${code}`}):\n${tail.join('\n')}`));
      }
    });
  });
}

/** Where the Go module cache holds `module@version` (downloading it when it is not there yet). */
export async function goModuleDir(go: string, moduleAtVersion: string, env: NodeJS.ProcessEnv): Promise<string> {
  const cwd = await fs.mkdtemp(path.join(os.tmpdir(), 'batchflow-go-'));
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(go, ['mod', 'download', '-json', moduleAtVersion], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve(stdout) : reject(new Error(`go mod download ${moduleAtVersion} failed: ${stderr || stdout}`)),
      );
    });
    const dir = (JSON.parse(out) as { Dir?: string }).Dir;
    if (!dir) throw new Error(`go mod download ${moduleAtVersion} named no directory`);
    return dir;
  } finally {
    await fs.rm(cwd, { recursive: true, force: true });
  }
}

// O_EXCL lock file holding the owner's pid. It only prevents two processes
// (e.g. tests and `npm start`) from compiling at once; correctness already
// comes from the atomic rename, so the rare race when breaking a stale lock
// at worst costs a duplicate build.
export async function acquireLock(lockPath: string, what: string, log: Log): Promise<() => Promise<void>> {
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
      log(`removing stale ${what} build lock ${lockPath} (owner pid ${owner} is gone)`);
      await fs.rm(lockPath, { force: true });
      continue;
    }
    const now = Date.now();
    if (now - started > LOCK_MAX_WAIT_MS) {
      throw new Error(`gave up waiting for ${lockPath} (held by pid ${owner}); remove it if that build is stuck`);
    }
    if (now - lastNotice >= PROGRESS_EVERY_MS) {
      lastNotice = now;
      log(`waiting for another process (pid ${owner}) to finish building the ${what} (${Math.round((now - started) / 1000)}s)`);
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
