/** A production entry (src/main/*.ts) as a child process of the bench or the soak, with its log's tail kept. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO_ROOT = path.join(__dirname, '..');

export interface EntryProcess {
  child: ChildProcess;
  /** The last `tailLines` lines of its stdout and stderr, each prefixed with `[name]`. */
  lines: string[];
}

/**
 * `nodeArgs`: options for node itself, before the entry (an npm script's, from scriptNodeOptions, and
 * the bench's profile's `--cpu-prof`). Without a loader among them (`--require`/`--import`), tsx's
 * full one (`--import tsx`).
 */
export function spawnEntry(name: string, entry: string, env: NodeJS.ProcessEnv, tailLines: number, nodeArgs: string[] = []): EntryProcess {
  const loader = nodeArgs.some((a) => a === '--require' || a === '--import') ? [] : ['--import', 'tsx'];
  // node itself, not npm's shell: the pid is the process whose memory we read.
  const child = spawn(process.execPath, [...nodeArgs, ...loader, entry], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) if (line) lines.push(`[${name}] ${line}`);
    if (lines.length > tailLines) lines.splice(0, lines.length - tailLines);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, lines };
}

export const exited = (c: EntryProcess): boolean => c.child.exitCode !== null || c.child.signalCode !== null;

/** SIGTERM (the entry's graceful shutdown), SIGKILL after `graceMs`. */
export async function stopEntry(c: EntryProcess, graceMs: number): Promise<void> {
  if (exited(c)) return;
  const done = new Promise<void>((resolve) => c.child.once('exit', () => resolve()));
  c.child.kill('SIGTERM');
  const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** An npm script of the form `[NAME=value …] node <options> <entry>`, split up. */
function scriptWords(script: string): { env: Record<string, string>; nodeArgs: string[] } {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = (pkg.scripts[script] ?? '').split(/\s+/).filter(Boolean);
  const env: Record<string, string> = {};
  while (words[0] && /^[A-Z_]+=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split('=');
    env[name!] = value.join('=');
  }
  if (words[0] !== 'node')
    throw new Error(`npm script ${script}: expected \`[NAME=value …] node <options> <entry>\`, got \`${pkg.scripts[script]}\``);
  return { env, nodeArgs: words.slice(1, -1) };
}

/**
 * The node options an npm script gives its entry (package.json's `node <options> src/main/….ts`,
 * the loader `--require tsx/cjs` included), so the bench runs the process as `npm start` or
 * `npm run worker` does.
 */
export const scriptNodeOptions = (script: string): string[] => scriptWords(script).nodeArgs;

/** The environment an npm script sets before node (`MALLOC_ARENA_MAX=2`), for the same reason. */
export const scriptEnv = (script: string): Record<string, string> => scriptWords(script).env;
