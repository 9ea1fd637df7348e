/**
 * `npm run bench [-- --scenarios=a1k,a20k,a50k,b20k,baseline] [-- --quick]`: batches through the
 * real stack (its own Temporal dev server, the real workers, the real API over HTTP), the bare
 * baseline beside them, and the figures printed and written to bench/results.md
 * (bench/results-quick.md with --quick). On PostgreSQL (DATABASE_URL) the API and the worker are
 * the production entries in two child processes, measured apart (./process-stack); on PGlite they
 * run in the bench's process (./stack). Exits non-zero when a batch does not complete or an item is
 * lost or duplicated, so CI notices when the path rots.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { bundleWorkflows } from '../src/temporal/worker';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { bundleBaseline, runBaseline } from './baseline';
import { devServerRss, percentile, runHistories, samplePeaks } from './measure';
import { startProcessStack } from './process-stack';
import { startSlowTarget, type SlowTarget } from './publish-target';
import { openBenchDb, startBenchStack, type BenchDb, type BenchStack, type Usage } from './stack';

/** Same chunking for every scenario and the baseline. */
const CHUNK_SIZE = 100;
const MAX_PARALLEL = 8;
const SUBMIT_BODY_ITEMS = 50_000;

interface Scenario {
  name: string;
  items: number;
  publishDelayMs: number;
}

const ALL: Scenario[] = [
  { name: 'a1k', items: 1_000, publishDelayMs: 0 },
  { name: 'a20k', items: 20_000, publishDelayMs: 0 },
  { name: 'a50k', items: 50_000, publishDelayMs: 0 },
  { name: 'b20k', items: 20_000, publishDelayMs: 50 },
];
const QUICK: Scenario[] = [
  { name: 'a1k', items: 1_000, publishDelayMs: 0 },
  { name: 'a2k', items: 2_000, publishDelayMs: 0 },
];

interface Row {
  scenario: string;
  items: number;
  wallMs: number;
  baselineMs?: number;
  progress?: { p50: number; p99: number; n: number };
  usage?: Usage;
  devServerRss?: number;
  history?: { runs: number; events: number; bytes: number };
  ok: boolean;
  problem?: string;
}

const TEXTS = ['cotton t-shirt crew neck', 'leather shoes boots', 'laptop computer notebook', 'wooden chair table', 'plush toy puzzle'];

function body(items: number, prefix: string): string {
  return JSON.stringify({
    items: Array.from({ length: items }, (_, i) => ({ ref: `${prefix}-${i}`, text: TEXTS[i % TEXTS.length] })),
    chunk_size: CHUNK_SIZE,
    max_parallel_chunks: MAX_PARALLEL,
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Bundle = Awaited<ReturnType<typeof bundleWorkflows>>;

/** One batch of `s.items` through `stack`, checked item by item against the database and the target. */
async function runScenario(stack: BenchStack, target: SlowTarget, s: Scenario): Promise<Row> {
  target.delayMs = s.publishDelayMs;
  const devServer = samplePeaks({ devServer: devServerRss() });
  const usage = await stack.measure();
  try {
    const payload = body(s.items, s.name);
    const t0 = performance.now();
    const res = await stack.api('/v1/batches', { method: 'POST', body: payload });
    const submitted = (await res.json()) as { batch_id: string; workflow_id: string };
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(submitted)}`);
    const done = stack.client.workflow.getHandle(submitted.workflow_id).result();
    let finished = false;
    void done.finally(() => (finished = true)).catch(() => undefined);

    // Progress reads while it runs: what a client polling the batch sees.
    const reads: number[] = [];
    const deadline = Date.now() + 120_000 + s.items * 15 + s.publishDelayMs * s.items;
    while (!finished && Date.now() < deadline) {
      const r0 = performance.now();
      const r = await stack.api(`/v1/batches/${submitted.batch_id}`);
      await r.arrayBuffer();
      if (!finished) reads.push(performance.now() - r0);
      await sleep(250);
    }
    if (!finished) throw new Error(`batch ${submitted.batch_id} did not finish in time`);
    await done;
    const wallMs = performance.now() - t0;
    const used = await usage.stop();

    const view = (await (await stack.api(`/v1/batches/${submitted.batch_id}`)).json()) as {
      status: string;
      counts: Record<string, number>;
    };
    const rows = await stack.db
      .selectFrom('item_results')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('ref').distinct().as('refs')])
      .where('batch_id', '=', submitted.batch_id)
      .where('status', '=', 'succeeded')
      .where('published', '=', true)
      .executeTakeFirstOrThrow();
    const problems: string[] = [];
    if (view.status !== 'completed') problems.push(`status ${view.status} ${JSON.stringify(view.counts)}`);
    if (Number(rows.n) !== s.items) problems.push(`${rows.n} of ${s.items} items succeeded and published`);
    if (Number(rows.refs) !== Number(rows.n)) problems.push(`${rows.n} results for ${rows.refs} distinct refs (duplicates)`);
    const created = target.createdFor(submitted.batch_id);
    if (created !== s.items) problems.push(`the target holds ${created} items of this batch, not ${s.items}`);

    const runs = await runHistories(stack.client, submitted.workflow_id);
    const largest = runs.reduce((a, r) => (r.events > a.events ? r : a), runs[0]!);
    return {
      scenario: s.name,
      items: s.items,
      wallMs,
      progress: { p50: percentile(reads, 50), p99: percentile(reads, 99), n: reads.length },
      usage: used,
      devServerRss: devServer.stop().devServer,
      history: { runs: runs.length, events: largest.events, bytes: largest.bytes },
      ok: problems.length === 0,
      problem: problems.join('; ') || undefined,
    };
  } catch (err) {
    devServer.stop();
    await usage.stop().catch(() => undefined);
    return { scenario: s.name, items: s.items, wallMs: NaN, ok: false, problem: (err as Error).message };
  }
}

interface SubmitLatency {
  p50: number;
  p99: number;
  n: number;
  mb: number;
  /** Peak RSS of the API process over the submits (process mode only). */
  apiRss?: number;
}

/** Several submits of a 50,000-item body to an API with no worker: the batches start and wait. */
async function submitLatency(stack: BenchStack, times: number): Promise<SubmitLatency> {
  const usage = await stack.measure();
  const took: number[] = [];
  let mb = 0;
  for (let i = 0; i < times; i++) {
    const payload = body(SUBMIT_BODY_ITEMS, `submit${i}`);
    mb = payload.length / 1e6;
    const t0 = performance.now();
    const res = await stack.api('/v1/batches', { method: 'POST', body: payload });
    await res.arrayBuffer();
    took.push(performance.now() - t0);
    if (res.status !== 202) throw new Error(`submit answered ${res.status}`);
  }
  const used = await usage.stop();
  return {
    p50: percentile(took, 50),
    p99: percentile(took, 99),
    n: took.length,
    mb,
    apiRss: stack.mode === 'processes' ? used.rss.API : undefined,
  };
}

function machine(dbKind: string, processes: boolean, loadAtStart: number[]): string[] {
  const osName =
    /PRETTY_NAME="([^"]+)"/.exec(fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '')?.[1] ??
    `${os.type()} ${os.release()}`;
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores; RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Node ${process.version}; ${osName} (kernel ${os.release()})`,
    `- database: ${dbKind}`,
    `- load average at start (1/5/15 min): ${loadAtStart.map((l) => l.toFixed(2)).join(' / ')}${loadAtStart[0]! > os.cpus().length ? ' (more than the cores: other work ran beside the bench, so the figures are low)' : ''}`,
    `- chunking: ${CHUNK_SIZE} items per chunk, ${MAX_PARALLEL} chunks in flight, classify → ingest → publish`,
    processes
      ? '- processes: the API (src/main/api.ts) and the worker (src/main/worker.ts) as two child processes, configured by the environment only, measured apart'
      : "- processes: API and worker in the bench's own process (PGlite serves one process), so their RSS is one combined figure",
  ];
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(0));

function table(rows: Row[], processes: boolean): string[] {
  const rssHeader = processes ? 'peak RSS API / worker / dev server MiB' : 'peak RSS API+worker (one process) / dev server MiB';
  const out = [
    `| scenario | items | wall s | items/s | ms/item | × baseline | progress read p50/p99 ms (n) | ${rssHeader} | runs, largest history events / KiB | SQL statements/item API / worker | ok |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ratio = r.baselineMs ? (r.wallMs / r.baselineMs).toFixed(2) : '–';
    const u = r.usage;
    out.push(
      `| ${r.scenario} | ${r.items.toLocaleString('en')} | ${(r.wallMs / 1000).toFixed(1)} | ${(r.items / (r.wallMs / 1000)).toFixed(0)} | ${(r.wallMs / r.items).toFixed(2)} | ${ratio} | ` +
        `${r.progress ? `${ms(r.progress.p50)} / ${ms(r.progress.p99)} (${r.progress.n})` : '–'} | ` +
        `${u ? [...Object.values(u.rss), r.devServerRss ?? 0].map(mib).join(' / ') : '–'} | ` +
        `${r.history ? `${r.history.runs}, ${r.history.events} / ${(r.history.bytes / 1024).toFixed(0)}` : '–'} | ` +
        `${u ? `${((u.statements.API ?? 0) / r.items).toFixed(3)} / ${((u.statements.worker ?? 0) / r.items).toFixed(3)}` : '–'} | ${r.ok ? 'yes' : `NO: ${r.problem}`} |`,
    );
  }
  return out;
}

/** Replaces the generated part of the results file, keeping the notes around it (before/after). */
function writeResults(file: string, generated: string[]): void {
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const block = [start, ...generated, end].join('\n');
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `# Benchmark results\n\n${start}\n${end}\n`;
  const i = old.indexOf(start);
  const j = old.indexOf(end);
  const next = i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + end.length) : `${old.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, next);
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = os.loadavg();
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const picked = argv
    .find((a) => a.startsWith('--scenarios='))
    ?.split('=')[1]
    ?.split(',');
  const pool = quick ? QUICK : ALL;
  const scenarios = picked ? pool.filter((s) => picked.includes(s.name)) : pool;
  const withBaseline = !picked || picked.includes('baseline');
  const unknown = picked?.filter((p) => p !== 'baseline' && !pool.some((s) => s.name === p)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown scenarios: ${unknown.join(', ')} (choose from ${[...pool.map((s) => s.name), 'baseline'].join(', ')})`);
  const log = (line: string): void => console.error(`[bench] ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}`);
  // The SDK's worker chatter (state changes) would bury the figures; warnings still show.
  Runtime.install({ logger: new DefaultLogger('WARN') });

  // Each of these takes seconds to tens of seconds on a loaded machine: side by side.
  const [server, db, bundle, baselineBundle, target] = await Promise.all([
    startDevServer({ log }),
    openBenchDb(),
    bundleWorkflows(),
    bundleBaseline(),
    startSlowTarget(0),
  ]);
  const processes = db.schemaUrl !== undefined;
  log(`database ready: ${db.kind}; workflows bundled; API and worker ${processes ? 'as two child processes' : "in the bench's process"}`);
  const rows: Row[] = [];
  let submit: SubmitLatency | undefined;
  let shared: BenchStack | undefined;
  try {
    const counts = [...new Set(withBaseline ? (scenarios.length > 0 ? scenarios : pool).map((s) => s.items) : [])];
    const baselineMs = new Map<number, number>();
    for (const n of counts) {
      const b = await runBaseline(server, baselineBundle, n, CHUNK_SIZE, MAX_PARALLEL);
      const runs = await runHistories(b.client, b.workflowId);
      await b.close();
      baselineMs.set(n, b.wallMs);
      const largest = runs.reduce((a, r) => (r.events > a.events ? r : a), runs[0]!);
      rows.push({
        scenario: `baseline ${n / 1000}k`,
        items: n,
        wallMs: b.wallMs,
        history: { runs: runs.length, events: largest.events, bytes: largest.bytes },
        ok: true,
      });
      log(`baseline ${n}: ${(b.wallMs / 1000).toFixed(1)} s`);
    }
    const measureSubmit = !picked || scenarios.length > 0;
    // The child processes start once (tens of seconds each on a loaded machine) and serve every scenario.
    if (processes && (scenarios.length > 0 || measureSubmit))
      shared = await startProcessStack(server, db, db.schemaUrl!, target.url, bundle, log);
    for (const s of scenarios) {
      log(`${s.name}: ${s.items} items, publish +${s.publishDelayMs} ms per call`);
      const row = await scenarioOn(shared, server, bundle, db, target, s);
      row.baselineMs = baselineMs.get(s.items);
      rows.push(row);
      log(`${s.name}: ${row.ok ? 'ok' : `FAILED: ${row.problem}`}, ${(row.wallMs / 1000).toFixed(1)} s`);
    }
    if (measureSubmit) {
      // An API with no worker behind it: the batches start and wait.
      if (shared) await shared.stopWorker!();
      const stack = shared ?? (await startBenchStack(server, bundle, db, undefined, false));
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

  const dbKind = processes ? "PostgreSQL (DATABASE_URL), a schema of the bench's own" : 'PGlite (in memory, in process)';
  const peakFrom = rows.find((r) => r.usage)?.usage?.peakFrom;
  const generated = [
    `## ${quick ? 'Quick run' : 'Full run'}: \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\``,
    '',
    ...machine(dbKind, processes, loadAtStart),
    `- total bench time: ${((Date.now() - started) / 1000).toFixed(0)} s (dev server start included)`,
    '',
    ...table(rows, processes),
    '',
    submit
      ? `Submit latency, ${SUBMIT_BODY_ITEMS.toLocaleString('en')}-item JSON body (${submit.mb.toFixed(1)} MB), ${submit.n} submits to an API with no worker running: p50 ${ms(submit.p50)} ms, p99 ${ms(submit.p99)} ms` +
        `${submit.apiRss !== undefined ? `; peak RSS of the API process over the submits ${mib(submit.apiRss)} MiB` : ''}.`
      : 'Submit latency: not measured in this selection.',
    '',
    processes
      ? `Peak RSS is each child process's own over the scenario: ${peakFrom === 'VmHWM' ? 'its VmHWM (/proc/<pid>/status), reset before the scenario (/proc/<pid>/clear_refs)' : (peakFrom ?? 'not measured')}; the processes serve every scenario in turn, so a later scenario starts from a warm process. ` +
        "SQL statements are the difference of `batchflow_db_statements_total` on the API's `/metrics` (PORT) and the worker's (WORKER_METRICS_PORT) before and after the scenario; the API's include the progress reads and one statement of the bench's own scrape (the batches gauge)."
      : "Peak RSS is sampled every 100 ms over the scenario. API and worker run in one process here (the bench's, PGlite serves one process), so their peak is one combined figure (with the bench's own request bodies). SQL statements count every statement the API and the worker issue through Kysely, each through a view of its own.",
    'The dev server is measured apart (its VmRSS sampled every 100 ms). Progress reads are `GET /v1/batches/{id}` every 250 ms while the batch runs.',
  ];
  const text = generated.join('\n');
  console.log(text);
  writeResults(path.join(__dirname, quick ? 'results-quick.md' : 'results.md'), generated);
  const failed = rows.filter((r) => !r.ok);
  if (failed.length > 0) {
    console.error(`[bench] ${failed.length} scenario(s) failed: ${failed.map((r) => `${r.scenario}: ${r.problem}`).join('; ')}`);
    process.exit(1);
  }
  process.exit(0);
}

/** A scenario on the shared child processes, or on an in-process stack of its own. */
async function scenarioOn(
  shared: BenchStack | undefined,
  server: DevServer,
  bundle: Bundle,
  db: BenchDb,
  target: SlowTarget,
  s: Scenario,
): Promise<Row> {
  const stack = shared ?? (await startBenchStack(server, bundle, db, target.url));
  try {
    return await runScenario(stack, target, s);
  } finally {
    if (!shared) await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
