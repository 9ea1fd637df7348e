/**
 * `npm test`: provisions the Temporal CLI if needed, starts one dev server and bundles the workflow
 * code once for the whole suite, then runs every test file with Node's test runner against them,
 * slowest files first (test/file-times.json). Each test uses its own task queue (and, on
 * PostgreSQL, its own schema), so files run in parallel without meeting.
 *
 * npm runs it as `node --require tsx/cjs test/run.ts`: node:test starts each test file's process
 * with this process's execArgv, so the files load through tsx's CommonJS hook (as `npm start`
 * does) rather than its ESM loader, which costs each of the ~80 processes a loader thread and a
 * few tenths of a second of CPU more. `npx tsx test/run.ts` works too, only slower; a test file
 * must therefore not `await import()` TypeScript, which only the ESM loader resolves.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { startDevServer } from '../src/temporal/dev-server';
import { writeWorkflowBundle } from '../src/temporal/bundle';
import { freePort } from '../src/net/free-port';
import { ensureChromium } from './helpers/browser';
import { writePgliteTemplate } from './helpers/db';
import { fileTimer, readTimes, slowestFirst, summary, writeTimes } from './helpers/file-times';

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return testFiles(full);
    return e.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** The whole run's bound; a full run takes 10-20 minutes here (docs/testing.md). */
const RUN_LIMIT_MIN = 45;

/**
 * Test files at once. Much of a file's time is waiting (on Temporal, on timers a test is about),
 * so one more file than the machine's 2 cores keeps it busier; at 4, on a machine loaded by others
 * too, starved processes failed tests about timing (a 3 s database connect, a pause window).
 */
const DEFAULT_CONCURRENCY = 3;

/**
 * The fault suite restarts PostgreSQL and dev servers and kills processes, which would break
 * whatever else runs beside it; it runs on its own (`npm run test:faults`), never in `npm test`.
 * So does the cluster test (`npm run test:cluster`): a Temporal cluster of its own, on fixed ports,
 * whose nodes it kills.
 */
const OWN_RUN_ONLY = ['faults', 'cluster'].map((dir) => path.join(__dirname, dir));

/**
 * The fast tier (`npm run test:unit`): files that need no server of any kind (no dev server, no
 * browser, no PostgreSQL: in-process PGlite even where DATABASE_URL is set).
 */
const UNIT = ['unit', 'db', 'api/api-doc.test.ts', 'replay.test.ts'].map((p) => path.join(__dirname, p));
/** In test/db but about PostgreSQL only (other sessions dropping schemas, a lost connection): `npm test` runs them, on PostgreSQL. */
const NOT_UNIT = ['migrate-race.test.ts', 'listen.test.ts'].map((f) => path.join(__dirname, 'db', f));

/**
 * The suite's dev server serves every file's workflows, and at Go's default GOGC (100) a tenth of
 * its CPU went to garbage collection: at 400 it used ~12% less CPU on workflow/batch-workflow.test.ts
 * (11.6 -> 10.6 and 13.3 -> 11.5 CPU-s), for a few hundred MiB more heap. Only this server gets it
 * (a GOGC already set is kept); test files and what they start see the environment as it was.
 */
const DEV_SERVER_ENV = { GOGC: process.env.GOGC ?? '400' };

/** Runs `fn` with `vars` set in process.env (what a child spawned meanwhile inherits), then restores it. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Files and directories named on the command line, directories expanded to their test files. */
function selectedFiles(args: string[]): string[] {
  if (args.length === 0) return testFiles(__dirname).filter((f) => !OWN_RUN_ONLY.some((dir) => f.startsWith(dir + path.sep)));
  return args.flatMap((arg) => (fs.statSync(arg).isDirectory() ? testFiles(path.resolve(arg)) : [path.resolve(arg)]));
}

/** Runs `files`, `concurrency` at a time in the order given, reporting as `node --test` does. */
async function runFiles(files: string[], concurrency: number, signal: AbortSignal) {
  const timer = fileTimer();
  // A Node stream of the runner's events (@types/node 20 calls it a web ReadableStream).
  const events = run({ files, concurrency, signal }) as unknown as Readable;
  const out = (events.compose(timer.transform) as unknown as Readable).compose(new spec()) as unknown as Readable;
  out.pipe(process.stdout);
  await new Promise<void>((resolve, reject) => out.on('end', resolve).on('error', reject));
  return timer;
}

async function main(): Promise<void> {
  const started = Date.now();
  const log = (line: string): void => console.error(`[test] ${line}`);
  const argv = process.argv.slice(2);
  const option = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const concurrency = Number(option('concurrency') ?? DEFAULT_CONCURRENCY);
  const unit = argv.includes('--unit');
  const named = argv.filter((a) => !a.startsWith('--'));
  const files = slowestFirst(unit ? selectedFiles(UNIT).filter((f) => !NOT_UNIT.includes(f)) : selectedFiles(named), readTimes());
  const cleanups: Array<() => Promise<void> | void> = [];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-test-run-'));
  cleanups.push(() => fs.rmSync(scratch, { recursive: true, force: true }));
  // On PGlite, every test's database starts from one migrated data directory made here (a new
  // PGlite runs initdb: seconds of CPU each).
  const template = path.join(scratch, 'pglite-template.tar');
  const pgliteTemplate = unit || !process.env.DATABASE_URL ? writePgliteTemplate(template) : undefined;

  if (unit) {
    log(`unit tier: ${files.length} test files, no server, PGlite`);
    delete process.env.DATABASE_URL;
    await pgliteTemplate;
    process.env.TEST_PGLITE_TEMPLATE = template;
  } else {
    ensureChromium(log);
    // One bundle for every worker of the run (bundling costs each file seconds of CPU otherwise);
    // the tests about bundling itself still bundle (test/workflow/prebuilt-bundle.test.ts).
    const bundle = path.join(scratch, 'workflow-bundle.js');
    // The Temporal UI too, on a free port, for the browser tests (TEMPORAL_TEST_UI_URL).
    const [server] = await withEnv(DEV_SERVER_ENV, async () =>
      Promise.all([startDevServer({ log, ui: true, uiPort: await freePort() }), writeWorkflowBundle(bundle), pgliteTemplate]),
    );
    cleanups.unshift(() => server.stop());
    const ownRun = files.some((f) => OWN_RUN_ONLY.some((dir) => path.resolve(f).startsWith(dir + path.sep)));
    const database = process.env.DATABASE_URL
      ? 'PostgreSQL (DATABASE_URL)'
      : ownRun
        ? 'PostgreSQL at 127.0.0.1:5432 (these tests run separate processes)'
        : 'PGlite (in memory)';
    log(`database: ${database}; ${files.length} test files, ${concurrency} at a time, slowest first`);
    Object.assign(process.env, {
      TEMPORAL_TEST_ADDRESS: server.address,
      TEMPORAL_TEST_NAMESPACE: server.namespace,
      TEMPORAL_TEST_UI_URL: server.uiUrl ?? '',
      TEST_WORKFLOW_BUNDLE: bundle,
      ...(pgliteTemplate ? { TEST_PGLITE_TEMPLATE: template } : {}),
    });
  }

  // A file whose tests pass but whose process never exits (a timer or socket left open) would hold
  // the run until CI's own limit, with nothing to say why: fail it, loudly, well before that.
  const abort = new AbortController();
  const deadline = setTimeout(() => {
    log(`still running after ${RUN_LIMIT_MIN} min: a test file did not exit (a timer, socket or server left open?); stopping`);
    abort.abort();
    setTimeout(() => process.exit(1), 10_000).unref();
  }, RUN_LIMIT_MIN * 60_000);
  const timer = await runFiles(files, concurrency, abort.signal);
  clearTimeout(deadline);
  for (const cleanup of cleanups) await cleanup();
  for (const line of summary(timer.times)) log(line);
  const failed = timer.failed() || abort.signal.aborted;
  if (argv.includes('--record-times')) {
    if (failed || named.length > 0 || unit) log('--record-times: only a whole passing run is recorded; times not written');
    else writeTimes(timer.times, `npm test, ${concurrency} at a time, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}`);
  }
  log(`finished in ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(failed ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
