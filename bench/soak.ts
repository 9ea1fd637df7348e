/**
 * `npm run soak -- --minutes 10 --clients 20`: the real stack under a steady mixed load for a
 * while, to show that it neither fails nor grows. See bench/soak-stack.ts for the stack,
 * bench/soak-clients.ts for what the clients do, bench/soak-report.ts for the verdicts.
 *
 * Exits non-zero on any 5xx, network error or unexpected 4xx, on a series that grows beyond its
 * tolerance, on a batch that did not end, and on an item that is not in a final state or whose
 * effect at the publish target disagrees with the database. Writes bench/soak-results.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newRecorder, runClient, type ClientContext } from './soak-clients';
import { latencyTable, samplesTable, statusTable, toleranceText, trends, trendTable } from './soak-report';
import { loadAverage, takeSample, type Sample } from './soak-sample';
import { startSoakStack, type SoakStack } from './soak-stack';

/** The first part of the run is excluded from the flatness verdict: JIT, pools and caches fill up then. */
const WARMUP_SHARE = 0.2;
/** After the run's time is up, the batches in hand get this long to end. */
const DRAIN_DEADLINE_MS = 6 * 60_000;
/**
 * Shorter runs are mostly start-up: the worker's caches and the API's pools still fill for the
 * first minutes (1-minute runs showed 15 MiB of heap growth that 10-minute runs do not). Their
 * series are printed but not judged.
 */
const MIN_JUDGED_MINUTES = 5;

const log = (line: string): void => console.error(`[soak] ${line}`);

interface ItemCheck {
  batches: number;
  notFinal: string[];
  items: number;
  itemsNotFinal: number;
  itemsMissing: number;
  orphaned: number;
  publishedInDb: number;
  liveAtTarget: number;
  liveNotRecorded: number;
  recordedNotLive: number;
  byStatus: Record<string, number>;
  itemsByStatus: Record<string, number>;
  /** Why items did not succeed: `<status> at <stage>: <error code>` → count. */
  notSucceeded: Record<string, number>;
}

/** Every batch the database holds (a submit whose answer was lost counts too), against the target. */
async function checkItems(stack: SoakStack): Promise<ItemCheck> {
  const batches = await stack.query<{ id: string; status: string; total_items: number; results: number; open: number; orphaned: number }>(
    `select b.id, b.status, b.total_items::int, count(r.seq)::int as results,
            (count(r.seq) filter (where r.status in ('pending', 'running')))::int as open,
            (count(r.seq) filter (where r.status = 'orphaned'))::int as orphaned
       from batches b left join item_results r on r.batch_id = b.id group by b.id, b.status, b.total_items`,
  );
  const published = await stack.query<{ key: string }>(`select batch_id || ':' || ref as key from item_results where published`);
  const itemStates = await stack.query<{ status: string; n: number }>(
    `select status, count(*)::int as n from item_results group by status`,
  );
  const reasons = await stack.query<{ status: string; stage: string | null; code: string | null; message: string | null; n: number }>(
    `select status, stage, error->>'code' as code, left(error->>'message', 120) as message, count(*)::int as n
       from item_results where status not in ('succeeded', 'cancelled') group by 1, 2, 3, 4 order by n desc limit 10`,
  );
  const recorded = new Set(published.map((r) => r.key));
  const live = stack.target.live();
  const byStatus: Record<string, number> = {};
  for (const b of batches) byStatus[b.status] = (byStatus[b.status] ?? 0) + 1;
  return {
    batches: batches.length,
    notFinal: batches
      .filter((b) => !['completed', 'partial', 'failed', 'cancelled'].includes(b.status))
      .map((b) => `${b.id} (${b.status})`),
    items: batches.reduce((s, b) => s + b.total_items, 0),
    itemsNotFinal: batches.reduce((s, b) => s + b.open, 0),
    itemsMissing: batches.reduce((s, b) => s + Math.max(0, b.total_items - b.results), 0),
    orphaned: batches.reduce((s, b) => s + b.orphaned, 0),
    publishedInDb: recorded.size,
    liveAtTarget: live.size,
    liveNotRecorded: [...live].filter((k) => !recorded.has(k)).length,
    recordedNotLive: [...recorded].filter((k) => !live.has(k)).length,
    byStatus,
    itemsByStatus: Object.fromEntries(itemStates.map((r) => [r.status, r.n])),
    notSucceeded: Object.fromEntries(
      reasons.map((r) => [`${r.status} at ${r.stage ?? '–'}: ${r.code ?? 'no error code'}${r.message ? ` (${r.message})` : ''}`, r.n]),
    ),
  };
}

function machine(): string {
  const cpus = os.cpus();
  return `${os.hostname()}: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      clients: { type: 'string', default: '20' },
      out: { type: 'string', default: path.join(__dirname, 'soak-results.md') },
    },
  });
  const minutes = Number(values.minutes);
  const clients = Number(values.clients);
  if (!(minutes > 0) || !(clients >= 1) || !Number.isInteger(clients))
    throw new Error('usage: npm run soak -- [--minutes 10] [--clients 20] [--out file]');
  const durationMs = minutes * 60_000;
  // About 30 samples whatever the length, never more often than every 2 s nor less than every 10 s.
  const sampleMs = Math.min(10_000, Math.max(2_000, durationMs / 30));
  const startedAt = new Date();
  const loadBefore = loadAverage();
  log(`${minutes} min, ${clients} clients, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}; load average ${loadBefore}`);

  const stack = await startSoakStack(log);
  // Stopped early (Ctrl-C, or a SIGTERM to this process alone): leave no child, schema or temp dir behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the stack`);
      void stack.teardown().finally(() => process.exit(130));
    });
  }
  let exitCode: number;
  try {
    const rec = newRecorder();
    const t0 = Date.now();
    const samples: Sample[] = [];
    const sample = async (): Promise<void> => {
      const s = await takeSample((Date.now() - t0) / 1000, stack.processes, stack.admin, stack.pgApplication);
      samples.push(s);
      const show = Object.entries(s.values)
        .map(([k, v]) => `${k}=${Number.isFinite(v) ? Math.round(v) : '–'}`)
        .join(' ');
      log(
        `t=${Math.round(s.t)}s requests=${[...rec.statuses.values()].reduce((a, b) => a + b, 0)} batches=${rec.batches.length} problems=${rec.problems.length} ${show}`,
      );
    };
    await sample();
    let sampling = Promise.resolve();
    const timer = setInterval(() => {
      sampling = sampling.then(sample).catch((err: unknown) => log(`sample failed: ${String(err)}`));
    }, sampleMs);

    let stopping = false;
    const ctx: ClientContext = { baseUrl: stack.baseUrl, key: stack.key, rec, stopping: () => stopping };
    const running = Promise.all(Array.from({ length: clients }, (_, i) => runClient(ctx, i)));
    await new Promise((r) => setTimeout(r, durationMs));
    stopping = true;
    const loadAtEnd = loadAverage();
    log(`time is up; waiting for the batches in hand to end (at most ${DRAIN_DEADLINE_MS / 1000} s)`);
    const drained = await Promise.race([
      running.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), DRAIN_DEADLINE_MS)),
    ]);
    clearInterval(timer);
    await sampling;
    const crashed = stack.processes.filter((p) => p.exited()).map((p) => p.name);

    // PGlite is read once its process is gone; PostgreSQL either way.
    await stack.stopProcesses();
    const items = await checkItems(stack);

    const warmupS = (durationMs / 1000) * WARMUP_SHARE;
    const ts = trends(
      samples.filter((s) => s.t <= durationMs / 1000 + sampleMs / 1000),
      warmupS,
    );
    const statuses = statusTable(rec);
    const unexpected4xx = rec.problems.filter((p) => / → 4\d\d$/.test(p)).length;
    const failures: string[] = [];
    if (statuses.by['5xx']) failures.push(`${statuses.by['5xx']} × 5xx`);
    if (statuses.by.network) failures.push(`${statuses.by.network} network errors or timeouts`);
    if (unexpected4xx) failures.push(`${unexpected4xx} unexpected 4xx`);
    const judged = minutes >= MIN_JUDGED_MINUTES;
    if (judged)
      for (const t of ts.filter((x) => x.samples >= 3 && !x.flat))
        failures.push(`${t.series} grows: ${t.first.toFixed(1)} → ${t.last.toFixed(1)}`);
    if (!drained) failures.push('clients still busy after the drain deadline');
    if (crashed.length) failures.push(`exited during the run: ${crashed.join(', ')}`);
    if (items.notFinal.length)
      failures.push(`${items.notFinal.length} batches not in a final state: ${items.notFinal.slice(0, 5).join(', ')}`);
    if (items.itemsNotFinal) failures.push(`${items.itemsNotFinal} items not in a final state`);
    if (items.itemsMissing) failures.push(`${items.itemsMissing} items without a result row`);
    if (items.orphaned) failures.push(`${items.orphaned} orphaned items`);
    if (items.liveNotRecorded || items.recordedNotLive)
      failures.push(
        `publish target and database disagree: ${items.liveNotRecorded} live but not recorded, ${items.recordedNotLive} recorded but not live`,
      );
    if (rec.streams.leftOpen) failures.push(`${rec.streams.leftOpen} live streams left open after their batch ended`);
    exitCode = failures.length ? 1 : 0;

    const plans = rec.batches.reduce<Record<string, number>>((m, b) => ((m[b.plan] = (m[b.plan] ?? 0) + 1), m), {});
    const formats = rec.batches.reduce<Record<string, number>>((m, b) => ((m[b.format] = (m[b.format] ?? 0) + 1), m), {});
    const kv = (m: Record<string, number>): string =>
      Object.entries(m)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
    const report = [
      `# Soak results`,
      ``,
      `- command: \`${process.env.DATABASE_URL ? 'DATABASE_URL=… ' : ''}npm run soak -- --minutes ${minutes} --clients ${clients}\``,
      `- date: ${startedAt.toISOString()}`,
      `- machine: ${machine()}`,
      `- load average (1/5/15 min) at start ${loadBefore}, when the load stopped ${loadAtEnd} (the machine is shared with other engineers' tests)`,
      `- database: ${stack.dbKind === 'postgres' ? 'PostgreSQL (DATABASE_URL), API and worker as two processes' : 'PGlite, API and worker in one process (src/main/start.ts)'}; Temporal dev server of its own; loopback publish target (3 ms per call)`,
      `- load: ${clients} clients for ${minutes} min, one batch each at a time: ${rec.batches.length} batches (${kv(formats)}; plans: ${kv(plans)}), ${items.items} items`,
      `- verdict: **${failures.length ? `FAIL: ${failures.join('; ')}` : `PASS: 0 × 5xx, ${judged ? 'every series flat' : `growth not judged (under ${MIN_JUDGED_MINUTES} min)`}, every item final`}**`,
      ``,
      `## Requests`,
      ``,
      `${statuses.total} requests. 4xx expected only as 409 on control routes (the batch ended first).`,
      ``,
      statuses.text,
      ``,
      latencyTable(rec),
      ``,
      `Latency of \`sse\` and \`ws\` is the time to the response headers / the upgrade. Streams opened ${rec.streams.opened}, events received ${rec.streams.events}, streams closed by the server before a terminal event ${rec.streams.endedWithoutTerminal}, left open after their batch ended ${rec.streams.leftOpen}.`,
      ``,
      `## Growth`,
      ``,
      `Sampled every ${sampleMs / 1000} s. The first ${Math.round(warmupS)} s (${WARMUP_SHARE * 100}%) are warm-up; of the rest, the first third is compared with the last third, each by its median (the V8 heap by its floor, the lowest sample: heap used is a sawtooth between collections, and the floor is what survives them). Tolerances: ${toleranceText()}. \`tcp\` counts the process's established TCP connections, \`fds\` its open descriptors, \`pg.connections\` the stack's sessions in pg_stat_activity.`,
      ``,
      ...(judged
        ? []
        : [
            `**Not judged**: runs under ${MIN_JUDGED_MINUTES} minutes are mostly start-up; the verdicts below are for information only.`,
            ``,
          ]),
      trendTable(ts),
      ``,
      `## Batches and items at the end`,
      ``,
      `- batches in the database: ${items.batches} (${kv(items.byStatus)}); not final: ${items.notFinal.length}`,
      `- items: ${items.items} (${kv(items.itemsByStatus)}); not final: ${items.itemsNotFinal}; without a result: ${items.itemsMissing}; orphaned: ${items.orphaned}`,
      `- items that did not succeed, by reason: ${kv(items.notSucceeded) || 'none'}`,
      `- published per the database: ${items.publishedInDb}; live at the target: ${items.liveAtTarget}; live but not recorded: ${items.liveNotRecorded}; recorded but not live: ${items.recordedNotLive}; repeated publishes answered idempotently: ${stack.target.repeats}`,
      ``,
      ...(rec.problems.length
        ? [`## Problems (first 30 of ${rec.problems.length})`, ``, ...rec.problems.slice(0, 30).map((p) => `- ${p}`), ``]
        : []),
      `<details><summary>All samples</summary>`,
      ``,
      samplesTable(samples),
      ``,
      `</details>`,
      ``,
    ].join('\n');
    fs.writeFileSync(values.out, report);
    console.log(report);
    // The last lines only, cut short: a failing run's cause is usually near the end, and stacks are long.
    if (exitCode)
      for (const p of stack.processes)
        log(
          `--- last output of ${p.name}\n${p
            .tail()
            .split('\n')
            .slice(-40)
            .map((l) => l.slice(0, 400))
            .join('\n')}`,
        );
    log(`written to ${values.out}`);
  } finally {
    await stack.teardown();
  }
  process.exit(exitCode);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
