/**
 * `npm run bench:profile` (`--profile`): the worker runs under `node --cpu-prof`, one scenario
 * goes through, the worker is stopped (SIGTERM: its graceful shutdown exits, and node writes the
 * profile), and the samples taken during the scenario are put into categories by
 * ./profile-attribution. Node writes one file per thread: the main thread (activities, the
 * database, Core's callbacks) is reported apart from the others together (the SDK's workflow
 * threads, and the loader thread tsx's hooks run on), whose time is mostly idle.
 */
import fs from 'node:fs';
import path from 'node:path';
import { attribute, CATEGORY_ORDER, type CategoryTime, type CpuProfile } from './profile-attribution';

/** The flags that make node write the profile into `dir` when it exits. */
export const cpuProfArgs = (dir: string): string[] => ['--cpu-prof', `--cpu-prof-dir=${dir}`];

/** Now, on the clock V8 stamps its samples with (CLOCK_MONOTONIC, µs), so the scenario's window can be cut out. */
export const profileClockUs = (): number => Number(process.hrtime.bigint() / 1000n);

export interface ThreadTimes {
  /** "main thread", or "other threads (n)": the workflow threads and tsx's loader thread together. */
  thread: string;
  times: CategoryTime[];
}

/** Waits for node's profiles in `dir` (written as the process exits), then attributes each thread's samples within [fromUs, toUs]. */
export async function readProfiles(dir: string, fromUs: number, toUs: number): Promise<ThreadTimes[]> {
  const deadline = Date.now() + 10_000;
  const list = (): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  while (list().length === 0) {
    if (Date.now() > deadline) throw new Error(`no .cpuprofile in ${dir}: did the worker exit cleanly?`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const files = list();
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: thread 0 is the main thread.
  const threadOf = (f: string): number => Number(f.split('.')[4]);
  const times = (f: string): CategoryTime[] =>
    attribute(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as CpuProfile, fromUs, toUs);
  const main = files.filter((f) => threadOf(f) === 0);
  const others = files.filter((f) => threadOf(f) !== 0);
  const out: ThreadTimes[] = main.map((f) => ({ thread: 'main thread', times: times(f) }));
  if (others.length > 0) out.push({ thread: `other threads (${others.length})`, times: merge(others.map(times)) });
  return out;
}

function merge(all: CategoryTime[][]): CategoryTime[] {
  const ms = new Map<string, number>();
  for (const times of all) for (const t of times) ms.set(t.category, (ms.get(t.category) ?? 0) + t.ms);
  const total = [...ms.values()].reduce((a, b) => a + b, 0);
  return CATEGORY_ORDER.filter((c) => ms.has(c)).map((category) => ({
    category,
    ms: ms.get(category)!,
    percent: total > 0 ? (100 * ms.get(category)!) / total : 0,
  }));
}

/** One table, a pair of columns (ms, %) per thread group. */
export function profileTable(threads: ThreadTimes[]): string[] {
  const categories = CATEGORY_ORDER.filter((c) => threads.some((t) => t.times.some((x) => x.category === c)));
  const cell = (t: ThreadTimes, c: string): string => {
    const x = t.times.find((y) => y.category === c);
    return x ? `${x.ms.toFixed(0)} | ${x.percent.toFixed(1)}` : '– | –';
  };
  const total = (t: ThreadTimes): string => `${t.times.reduce((a, x) => a + x.ms, 0).toFixed(0)} | 100`;
  return [
    `| category | ${threads.map((t) => `${t.thread} ms | %`).join(' | ')} |`,
    `|---|${threads.map(() => '---|---').join('|')}|`,
    ...categories.map((c) => `| ${c} | ${threads.map((t) => cell(t, c)).join(' | ')} |`),
    `| total sampled | ${threads.map(total).join(' | ')} |`,
  ];
}

/**
 * Each stage's self time per item, from every thread: what one item costs the worker's CPU in that
 * stage's own code (the classifier's per-item cost is the core tier's budget, 1 ms).
 */
export function perItemLine(threads: ThreadTimes[], items: number): string {
  const ms = (c: string): number => threads.reduce((a, t) => a + (t.times.find((x) => x.category === c)?.ms ?? 0), 0);
  const stages = ['classify', 'ingest', 'publish'].map((c) => `${c} ${(ms(c) / items).toFixed(3)} ms`);
  return `Per item, the stages' own code (self time over ${items.toLocaleString('en')} items): ${stages.join(', ')}.`;
}

/** The rule, for the results file, beside the table it explains. */
export const ATTRIBUTION_NOTE =
  "Self time from the worker's CPU profile (`node --cpu-prof`), the samples taken while the scenario ran. Each sample goes to the first category that matches walking its stack from the leaf to the root: serialization (JSON.parse/stringify, the SDK's payload converters, protobufjs), database (pg, kysely, PGlite, src/db), HTTP client (undici, Node's bundled copy behind fetch or the npm package behind src/net/http-client.ts: publish's calls to the target), classify / ingest / publish (activities/stages/…), Temporal (@temporalio/*, the core bridge, the workflow bundle), batchflow, other (the rest of src/, activities/, workflows/). Database time is split into reads and writes by the src/db function above the driver (get/list/load/count… read; insert/write/mark/save… write); driver callbacks after an await have no caller on their stack and stay apart. Nothing matched: Node internals when the leaf is node:…, else other; V8's own entries are GC, program (native code, including Core's calls on this thread) and idle. Core's Rust threads are not in a V8 profile.";
