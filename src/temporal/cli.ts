// Finds or provisions the Temporal CLI that runs the dev server: TEMPORAL_CLI_PATH, `temporal` on
// PATH, the cached pinned build, a fresh build of it (./go-install), or the SDK's own download.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { acquireLock, cacheRoot, findOnPath, goInstall, isExecutableFile, type Log } from './go-install';

export type TemporalExecutable = { type: 'existing-path'; path: string } | { type: 'cached-download' };

// Later tags carry `replace` directives in go.mod, which `go install pkg@version`
// refuses, so this is the newest release we can build this way.
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

export function cachedCliPath(env: NodeJS.ProcessEnv = process.env): string {
  // Versioned directory: bumping TEMPORAL_CLI_VERSION never reuses a stale build.
  return path.join(cacheRoot(env), `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
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

async function buildPinnedCli(go: string, target: string, log: Log, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = path.dirname(target);
  await fs.mkdir(dir, { recursive: true });
  const what = 'temporal CLI';
  const release = await acquireLock(path.join(dir, '.build.lock'), what, log);
  try {
    // Whoever held the lock before us may have just finished the same build.
    if (await isExecutableFile(target)) return;
    // Build into a private dir on the same filesystem, then rename: readers
    // never observe a half-written binary, even if the lock was bypassed.
    const gobin = await fs.mkdtemp(path.join(dir, '.build-'));
    try {
      await goInstall(go, `${CLI_PACKAGE}@${TEMPORAL_CLI_VERSION}`, gobin, `${what} ${TEMPORAL_CLI_VERSION}`, log, env);
      await fs.rename(path.join(gobin, 'temporal'), target);
      log(`temporal CLI ${TEMPORAL_CLI_VERSION} installed at ${target}`);
    } finally {
      await fs.rm(gobin, { recursive: true, force: true });
    }
  } finally {
    await release();
  }
}
