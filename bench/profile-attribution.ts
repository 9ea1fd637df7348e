/**
 * "Where the time goes": a V8 CPU profile (`node --cpu-prof`) of the worker, its self time put
 * into categories. Pure: no files, no processes; bench/profile.ts reads the profile and writes it.
 *
 * The rule, for each sample: walk its stack from the leaf (the function running) towards the
 * root, and the first frame that matches a category takes the sample. A frame matches by its
 * script URL (or, for V8's own entries and JSON, its name), in the order of CATEGORIES below. So a
 * JSON.parse called by pg counts as serialization, pg's protocol code called by ingest counts as
 * the database, undici's code called by publish counts as the HTTP client, and the classifier's own code (and the library and built-ins it calls that match
 * nothing) counts as classify. Database samples are then split into reads and writes by the
 * nearest batchflow query function further up (src/db: get/list/find/load/count… read,
 * insert/write/mark/save… write); the driver's socket callbacks have no caller on their stack
 * (an await breaks it), so most driver time stays "database (driver, no caller)". A stack that
 * matches nothing is Node internals when its leaf is Node's or native (node:…, a binding, wasm),
 * else other: callbacks of I/O (a socket write, undici parsing an answer) land there, their
 * caller lost to an await like the driver's.
 */

export interface CallFrame {
  functionName: string;
  url: string;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a .cpuprofile this reads. Times are µs on the process's monotonic clock. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface CategoryTime {
  category: string;
  ms: number;
  percent: number;
}

type Matcher = (frame: CallFrame) => boolean;

const inUrl =
  (...parts: string[]): Matcher =>
  (f) =>
    parts.some((p) => f.url.includes(p));
/** batchflow's own code, not a dependency. */
const ours = (dir: string): Matcher => inUrl(`/${dir}/`);
const notDependency =
  (m: Matcher): Matcher =>
  (f) =>
    m(f) && !f.url.includes('/node_modules/');

/** Checked in this order at each frame; the first that matches names the frame's category. */
const CATEGORIES: [string, Matcher][] = [
  [
    'serialization',
    (f) =>
      (f.url === '' && (f.functionName === 'parse' || f.functionName === 'stringify')) ||
      inUrl('@temporalio/common/lib/converter', '@temporalio/proto', '/protobufjs/')(f),
  ],
  ['database', (f) => inUrl('/node_modules/pg', '/node_modules/kysely', '@electric-sql/pglite')(f) || notDependency(ours('src/db'))(f)],
  // undici's own code (and, above it, its wasm HTTP parser): in the worker, publish's calls to the
  // target. Node's bundled copy is global fetch; the npm package is what src/net/http-client.ts
  // calls, and that wrapper counts too, as fetch's own layer above undici did.
  ['HTTP client (undici)', inUrl('node:internal/deps/undici', '/node_modules/undici/', '/src/net/http-client.ts')],
  ['classify', notDependency(ours('activities/stages/classify'))],
  ['ingest', notDependency(ours('activities/stages/ingest'))],
  ['publish', notDependency(ours('activities/stages/publish'))],
  // The workflow bundle runs batchflow's workflow code inside the SDK's sandbox, and the SDK's
  // worker is built on rxjs pipelines: both are Temporal's part of the work.
  ['Temporal', inUrl('@temporalio/', 'core-bridge', 'workflow-bundle', '/node_modules/rxjs/')],
  // tsx compiling a module on first use, and Node's loader around it (the worker runs under tsx).
  ['module loading', inUrl('/node_modules/tsx/', 'node:internal/modules/')],
  ['batchflow, other', (f) => ['src', 'activities', 'workflows'].some((d) => notDependency(ours(d))(f))],
];

/** V8's own entries, at the root of their stacks. */
const V8_ENTRIES: Record<string, string> = {
  '(idle)': 'idle',
  '(garbage collector)': 'GC',
  '(program)': 'V8 and native (program)',
  '(root)': 'V8 and native (program)',
};

const READ = /^(get|list|find|load|count|cost|first|is|has)([A-Z]|$)/;
const WRITE =
  /^(insert|write|mark|save|finish|set|put|create|delete|reset|end|record|clear|resolve|update|upsert|lock|ensure|start|fail)([A-Z]|$)/;

/** The order rows are printed in. */
export const CATEGORY_ORDER = [
  'classify',
  'ingest',
  'publish',
  'database reads',
  'database writes',
  'database (driver, no caller)',
  'HTTP client (undici)',
  'serialization',
  'Temporal',
  'batchflow, other',
  'module loading',
  'Node internals',
  'GC',
  'V8 and native (program)',
  'idle',
  'other',
];

/** The category of one stack, leaf first (see the rule at the top of this file). */
export function categoryOf(stack: CallFrame[]): string {
  const leaf = stack[0];
  if (leaf && V8_ENTRIES[leaf.functionName] !== undefined && leaf.url === '') return V8_ENTRIES[leaf.functionName]!;
  for (let i = 0; i < stack.length; i++) {
    const found = CATEGORIES.find(([, matches]) => matches(stack[i]!))?.[0];
    if (found === undefined) continue;
    if (found !== 'database') return found;
    for (const f of stack.slice(i)) {
      if (!notDependency(ours('src/db'))(f)) continue;
      if (READ.test(f.functionName)) return 'database reads';
      if (WRITE.test(f.functionName)) return 'database writes';
    }
    return 'database (driver, no caller)';
  }
  // Built-ins and bindings (url ''), Node's own JS and its wasm (undici's HTTP parser): I/O, timers, microtasks.
  return leaf && (leaf.url === '' || leaf.url.startsWith('node:') || leaf.url.startsWith('wasm://')) ? 'Node internals' : 'other';
}

/**
 * Self time by category over the samples taken between `fromUs` and `toUs` (the profile's own
 * clock; default: the whole profile). A sample lasts until the next one; the last, the mean interval.
 */
export function attribute(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity): CategoryTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const categoryOfNode = new Map<number, string>();
  const nodeCategory = (id: number): string => {
    let known = categoryOfNode.get(id);
    if (known === undefined) {
      const stack: CallFrame[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame);
      categoryOfNode.set(id, (known = categoryOf(stack)));
    }
    return known;
  };

  const times: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) times.push((t += d));
  const meanInterval = times.length > 1 ? (times[times.length - 1]! - times[0]!) / (times.length - 1) : 0;
  const us = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const at = times[i]!;
    if (at < fromUs || at > toUs) return;
    const lasts = i + 1 < times.length ? times[i + 1]! - at : meanInterval;
    const category = nodeCategory(id);
    us.set(category, (us.get(category) ?? 0) + lasts);
    total += lasts;
  });
  return CATEGORY_ORDER.filter((c) => us.has(c)).map((category) => ({
    category,
    ms: us.get(category)! / 1000,
    percent: total > 0 ? (100 * us.get(category)!) / total : 0,
  }));
}
