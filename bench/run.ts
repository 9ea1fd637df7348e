/**
 * `npm run bench [-- --scenarios=a20k,bullmq20k,baseline] [-- --quick] [-- --profile[=label]]`:
 * bare Temporal, BullMQ and batchflow side by side, in one run and one table (bench/results.md;
 * bench/results-quick.md, git-ignored, with --quick or a --scenarios= selection, so only a full
 * run replaces the record). batchflow runs through the real stack: its own Temporal
 * dev server, the real workers, the real API over HTTP. On PostgreSQL (DATABASE_URL) the API and
 * the worker are the production entries in two child processes, measured apart
 * (./process-stack); on PGlite they run in the bench's process (./stack). The peers: the bare
 * baseline (./baseline) and the per-item BullMQ flow (./bullmq). `--profile` runs one batchflow
 * scenario with the worker under `--cpu-prof` and writes where its time goes (./profile).
 * Exits non-zero when a batch does not complete or an item is lost or duplicated, so CI notices
 * when the path rots. Figures are printed and written, never asserted.
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { bundleWorkflows } from '../src/temporal/worker';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { bundleBaseline, runBare } from './baseline';
import { runBatchflow, submitLatency, SUBMIT_BODY_ITEMS, type BatchflowScenario, type SubmitLatency } from './batchflow-scenario';
import { runBullmq } from './bullmq';
import { runEmbedded } from './embedded-stack';
import { startProcessStack } from './process-stack';
import { ATTRIBUTION_NOTE, cpuProfArgs, profileClockUs, perItemLine, profileTable, readProfiles } from './profile';
import { startSlowTarget, type SlowTarget } from './publish-target';
import { machine, ms, table, writeBlock, type Row } from './report';
import { choose, PROFILED } from './scenarios';
import { openBenchDb, startBenchStack, type BenchDb, type BenchStack } from './stack';

type Bundle = Awaited<ReturnType<typeof bundleWorkflows>>;

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = os.loadavg();
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const picked = argv
    .find((a) => a.startsWith('--scenarios='))
    ?.split('=')[1]
    ?.split(',');
  const profileFlag = argv.find((a) => a === '--profile' || a.startsWith('--profile='));
  let scenarios = choose(picked, quick);
  // A profile is of one batchflow scenario, on its own: anything beside it would be in the figures.
  if (profileFlag) scenarios = choose([scenarios.find((s) => s.kind === 'batchflow')?.name ?? PROFILED[quick ? 'quick' : 'full']], quick);
  const withBatchflow = scenarios.some((s) => s.kind === 'batchflow');
  const measureSubmit = !profileFlag && withBatchflow;
  const log = (line: string): void => console.error(`[bench] ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}`);
  // The SDK's worker chatter (state changes) would bury the figures; warnings still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });

  // Each of these takes seconds to tens of seconds on a loaded machine: side by side.
  const [server, db, bundle, baselineBundle, target] = await Promise.all([
    startDevServer({ log }),
    openBenchDb(),
    withBatchflow ? bundleWorkflows() : undefined,
    scenarios.some((s) => s.kind === 'bare') ? bundleBaseline() : undefined,
    startSlowTarget(0),
  ]);
  const processes = db.schemaUrl !== undefined;
  log(`database ready: ${db.kind}; API and worker ${processes ? 'as two child processes' : "in the bench's process"}`);
  // Kept after the run (.data/ is git-ignored): the raw profiles open in Chrome DevTools or speedscope.
  const profileDir = profileFlag
    ? path.join(__dirname, '..', '.data', 'bench-profiles', new Date().toISOString().replace(/[:.]/g, '-'))
    : undefined;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const rows: Row[] = [];
  let submit: SubmitLatency | undefined;
  let shared: BenchStack | undefined;
  let profiled: { row: Row; fromUs: number; toUs: number } | undefined;
  try {
    if (profileDir && !processes) throw new Error('--profile needs DATABASE_URL: the worker must be a process of its own to be profiled');
    for (const s of scenarios) {
      log(`${s.name}: ${s.items} items, ${s.kind}`);
      let row: Row;
      if (s.kind === 'bare') row = await runBare(server, baselineBundle!, s);
      else if (s.kind === 'bullmq') row = await runBullmq(s.name, s.items, s.work ? target : undefined);
      else if (s.kind === 'embedded') row = await runEmbedded(target, s, log);
      else {
        // The child processes start once, after the peers (so they take no CPU from them), and serve every batchflow scenario.
        if (processes && !shared)
          shared = await startProcessStack(server, db, db.schemaUrl!, target.url, bundle!, log, profileDir ? cpuProfArgs(profileDir) : []);
        const fromUs = profileClockUs();
        row = await scenarioOn(shared, server, bundle!, db, target, s);
        profiled = { row, fromUs, toUs: profileClockUs() };
      }
      rows.push(row);
      log(`${s.name}: ${row.skipped ?? (row.ok ? 'ok' : `FAILED: ${row.problem}`)}, ${(row.wallMs / 1000).toFixed(1)} s`);
    }
    for (const r of rows)
      if (r.system !== 'bare Temporal') r.baselineMs = rows.find((b) => b.system === 'bare Temporal' && sameWork(b, r))?.wallMs;
    if (profileDir && profiled) {
      // SIGTERM: the worker's graceful shutdown exits, and node writes the profile as it does.
      await shared!.stopWorker!();
      const threads = await readProfiles(profileDir, profiled.fromUs, profiled.toUs);
      writeProfile(
        quick,
        profileFlag!,
        profiled.row,
        [...profileTable(threads), '', perItemLine(threads, profiled.row.items)],
        loadAtStart,
      );
      log(`profiles: ${path.relative(process.cwd(), profileDir)}`);
    }
    if (measureSubmit) {
      // An API with no worker behind it: the batches start and wait.
      if (shared) await shared.stopWorker!();
      const stack = shared ?? (await startBenchStack(server, bundle!, db, undefined, false));
      try {
        submit = await submitLatency(stack, quick ? 2 : 5);
      } finally {
        if (!shared) await stack.stop();
      }
      log(`submit ${SUBMIT_BODY_ITEMS}: p50 ${ms(submit.p50)} ms, p99 ${ms(submit.p99)} ms`);
    }
  } finally {
    await shared?.stop();
    await target.close();
    await db.close();
    await server.stop();
  }

  // Only a full run replaces the record; a quick run or a selection goes to the git-ignored file.
  if (!profileFlag) writeRun(quick || picked !== undefined, quick, argv, rows, submit, processes, loadAtStart, started);
  const failed = rows.filter((r) => !r.ok);
  if (failed.length > 0) {
    console.error(`[bench] ${failed.length} scenario(s) failed: ${failed.map((r) => `${r.scenario}: ${r.problem}`).join('; ')}`);
    process.exit(1);
  }
  process.exit(0);
}

/** Same items and the same chunking ("defaults: 25 / 4" is the same work as "25 / 4"). */
const sameWork = (a: Row, b: Row): boolean =>
  a.items === b.items && a.chunking.replace('defaults: ', '') === b.chunking.replace('defaults: ', '');

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);

function writeRun(
  scratch: boolean,
  quick: boolean,
  argv: string[],
  rows: Row[],
  submit: SubmitLatency | undefined,
  processes: boolean,
  loadAtStart: number[],
  started: number,
): void {
  const dbKind = processes ? "PostgreSQL (DATABASE_URL), a schema of the bench's own" : 'PGlite (in memory, in process)';
  const peakFrom = rows.find((r) => r.peakFrom)?.peakFrom;
  const generated = [
    `## ${quick ? 'Quick run' : scratch ? 'A selection' : 'Full run'}: \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\``,
    '',
    ...machine(dbKind, processes, loadAtStart),
    '- stages: classify → ingest → publish; chunking is items per chunk / chunks in flight',
    `- total bench time: ${((Date.now() - started) / 1000).toFixed(0)} s (dev server start included)`,
    '',
    ...table(rows),
    '',
    submit
      ? `Submit latency, ${SUBMIT_BODY_ITEMS.toLocaleString('en')}-item JSON body (${submit.mb.toFixed(1)} MB), ${submit.n} submits to an API with no worker running: p50 ${ms(submit.p50)} ms, p99 ${ms(submit.p99)} ms` +
        `${submit.apiRss !== undefined ? `; peak RSS of the API process over the submits ${mib(submit.apiRss)} MiB` : ''}.`
      : 'Submit latency: not measured in this selection.',
    '',
    processes
      ? `batchflow's peak RSS is each child process's own over the scenario: ${peakFrom === 'VmHWM' ? 'its VmHWM (/proc/<pid>/status), reset before the scenario (/proc/<pid>/clear_refs)' : (peakFrom ?? 'not measured')}; the processes serve every batchflow scenario in turn, so a later scenario starts from a warm process. ` +
        "SQL statements are the difference of `batchflow_db_statements_total` on the API's `/metrics` (PORT) and the worker's (WORKER_METRICS_PORT) before and after the scenario; the API's include the progress reads and one statement of the bench's own scrape (the batches gauge)."
      : "batchflow's peak RSS is sampled every 100 ms over the scenario. API and worker run in one process here (the bench's, PGlite serves one process), so their peak is one combined figure (with the bench's own request bodies). SQL statements count every statement the API and the worker issue through Kysely, each through a view of its own.",
    "The dev server is measured apart (its VmRSS sampled every 100 ms); the bare baseline's worker runs in the bench's process, so its row has the dev server's RSS alone. BullMQ's `node` is the flow's own process (its maxRSS, tsx included) and `redis` the redis-server's VmRSS sampled every 100 ms; its wall time runs from addBulk to the last item's publish job. " +
      'Two BullMQ rows, one job per item per stage at concurrency 8 each: `bullmq…` runs no-op stages, the orchestration peer of bare Temporal (what the queues alone cost); ' +
      "`bullmq…-work` does per item what batchflow's stages do, as a Node user would write it: batchflow's classifier, one INSERT … ON CONFLICT into a table of its own (`pg`, a pool of 8; PostgreSQL only, else skipped), one POST to the same publish target with an Idempotency-Key, over the same undici client. " +
      "It has none of batchflow's durability: no per-chunk transactions, no staged records, text chunks or audit events, no record of what was sent, no compensation on failure or cancel; a failed job is just failed. " +
      (rows.some((r) => r.scenario.startsWith('npm-start'))
        ? "The npm-start rows are `npm start`'s embedded stack (src/main/start.ts: API, workers and PGlite in one node process, the Temporal dev server its child), a fresh one per row with a data dir and ports of its own, the batch submitted over HTTP at the defaults and checked by its counts and the target: `npm start` is the node process's VmHWM over the batch (reset before it), `npm start since start` the same since the process started (workflow bundling, PGlite and migrations included), `its dev server` that child's VmHWM over the batch; SQL statements are API and worker together, in the worker column. "
        : '') +
      "Progress reads: batchflow `GET /v1/batches/{id}` from a reader process of its own (bench/reader.ts: the bench process also serves the publish target, whose load would be timed too), its fetch loaded and its keep-alive connection opened by an untimed `GET /healthz` first, then the share of them that the API itself served within 25 ms by its own latency histogram (`batchflow_http_request_duration_seconds`, scraped before and after: the reader's time less its wait for a core), BullMQ `getJobCounts` on its three queues from the flow's process, every 250 ms while the work runs. × bare: wall time over the bare row with the same items and chunking.",
  ];
  console.log(generated.join('\n'));
  writeBlock(path.join(__dirname, scratch ? 'results-quick.md' : 'results.md'), 'bench', generated);
}

function writeProfile(quick: boolean, flag: string, row: Row, profile: string[], loadAtStart: number[]): void {
  const label = flag.split('=')[1];
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: __dirname, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  const generated = [
    `## Where the time goes${label ? ` (${label})` : ''}: \`npm run bench -- ${flag}\``,
    '',
    `- date: ${new Date().toISOString()}; commit ${commit}; load average at start ${loadAtStart.map((l) => l.toFixed(2)).join(' / ')} on ${os.cpus().length} cores`,
    `- scenario: ${row.scenario}, ${row.items.toLocaleString('en')} items, chunking ${row.chunking}; ${(row.wallMs / 1000).toFixed(1)} s, ${(row.items / (row.wallMs / 1000)).toFixed(0)} items/s under the profiler (slower than without); ${row.ok ? 'every item checked' : `FAILED: ${row.problem}`}`,
    '',
    ...profile,
    '',
    ATTRIBUTION_NOTE,
  ];
  console.log(generated.join('\n'));
  writeBlock(path.join(__dirname, quick ? 'results-quick.md' : 'results.md'), label ? `profile-${label}` : 'profile', generated);
}

/** A scenario on the shared child processes, or on an in-process stack of its own. */
async function scenarioOn(
  shared: BenchStack | undefined,
  server: DevServer,
  bundle: Bundle,
  db: BenchDb,
  target: SlowTarget,
  s: BatchflowScenario,
): Promise<Row> {
  const stack = shared ?? (await startBenchStack(server, bundle, db, target.url));
  try {
    return await runBatchflow(stack, target, s);
  } finally {
    if (!shared) await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
