/**
 * `npm test`: provisions the Temporal CLI if needed, starts one dev server for the whole suite,
 * and runs every test file with Node's test runner against it. Each test uses its own task queue
 * (and, on PostgreSQL, its own schema), so files run in parallel without meeting.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startDevServer } from '../src/temporal/dev-server';
import { ensureChromium } from './helpers/browser';
import { freePort } from '../src/net/free-port';

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return testFiles(full);
    return e.name.endsWith('.test.ts') ? [full] : [];
  });
}

/**
 * The fault suite restarts PostgreSQL and dev servers and kills processes, which would break
 * whatever else runs beside it; it runs on its own (`npm run test:faults`), never in `npm test`.
 */
/** The whole run's bound; a full run takes about 10 minutes here. */
const RUN_LIMIT_MIN = 45;

const OWN_RUN_ONLY = [path.join(__dirname, 'faults')];

/** Files and directories named on the command line, directories expanded to their test files. */
function selectedFiles(args: string[]): string[] {
  if (args.length === 0)
    return testFiles(__dirname)
      .filter((f) => !OWN_RUN_ONLY.some((dir) => f.startsWith(dir + path.sep)))
      .sort();
  return args.flatMap((arg) => (fs.statSync(arg).isDirectory() ? testFiles(arg).sort() : [arg]));
}

async function main(): Promise<void> {
  const started = Date.now();
  const log = (line: string): void => console.error(`[test] ${line}`);
  // --concurrency=N: test files run at once (default 2, one per core here).
  const argv = process.argv.slice(2);
  const concurrency = argv.find((a) => a.startsWith('--concurrency='))?.split('=')[1] ?? '2';
  // --unit (npm run test:unit): the fast tier, test/unit only, with no server of any kind: no
  // dev server, no browser, and in-process PGlite even where DATABASE_URL is set.
  const unit = argv.includes('--unit');
  const files = unit ? testFiles(path.join(__dirname, 'unit')).sort() : selectedFiles(argv.filter((a) => !a.startsWith('--')));
  if (unit) {
    log(`unit tier: ${files.length} test files, no server, PGlite`);
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], {
      stdio: 'inherit',
      env,
    });
    const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
    log(`finished in ${Math.round((Date.now() - started) / 1000)} s`);
    process.exit(code);
  }
  ensureChromium(log);
  // The Temporal UI too, on a free port, for the browser tests (TEMPORAL_TEST_UI_URL).
  const server = await startDevServer({ log, ui: true, uiPort: await freePort() });
  const faults = files.some((f) => path.resolve(f).startsWith(OWN_RUN_ONLY[0]! + path.sep));
  const database = process.env.DATABASE_URL
    ? 'PostgreSQL (DATABASE_URL)'
    : faults
      ? 'PostgreSQL at 127.0.0.1:5432 (the fault suite needs separate processes)'
      : 'PGlite (in memory)';
  log(`database: ${database}; ${files.length} test files`);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], {
    stdio: 'inherit',
    env: {
      ...process.env,
      TEMPORAL_TEST_ADDRESS: server.address,
      TEMPORAL_TEST_NAMESPACE: server.namespace,
      TEMPORAL_TEST_UI_URL: server.uiUrl ?? '',
    },
  });
  // A file whose tests pass but whose process never exits (a timer or socket left open) would hold
  // the run until CI's own limit, with nothing to say why: fail it, loudly, well before that.
  const deadline = setTimeout(() => {
    log(`still running after ${RUN_LIMIT_MIN} min: a test file did not exit (a timer, socket or server left open?); stopping`);
    child.kill('SIGKILL');
  }, RUN_LIMIT_MIN * 60_000);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  clearTimeout(deadline);
  await server.stop();
  log(`finished in ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(code);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
