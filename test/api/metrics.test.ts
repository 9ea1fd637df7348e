/**
 * GET /metrics against a real stack (API and worker in one process, as `npm start` runs them): every
 * family is exposed with its type, and the values move by exactly what a batch did.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { items, startStack, waitForBatch, type Stack } from '../helpers/stack';
import { allItems, submit, type ItemBody } from '../helpers/api';

const TEST_TIMEOUT_MS = 240_000;
const STAGES = ['classify', 'ingest', 'publish'] as const;

let stack: Stack;
let target: PublishTarget;
// The first creates the target sees fail with 503 (a transient failure), then none do: a known number of retries.
const TRANSIENT_CREATES = 3;
let rolls = 0;

before(async () => {
  target = await startPublishTarget({ errorRate: 0.5 }, () => (rolls++ < TRANSIENT_CREATES ? 0 : 1));
  stack = await startStack({ publishUrl: target.url });
});
after(async () => {
  await stack.stop();
  await target.close();
});

/** Parsed samples: `name{a="b",…} value` lines. */
type Sample = { name: string; labels: Record<string, string>; value: number };
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

interface Scrape {
  text: string;
  /** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
  get(name: string, labels?: Record<string, string>): number;
}

async function scrape(): Promise<Scrape> {
  // No key: an operations route.
  const res = await fetch(`${stack.baseUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  const samples = parse(text);
  return {
    text,
    get: (name, labels = {}) =>
      samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0),
  };
}

/** What the items' final states say each stage recorded: passed, failed at it, or parked at it. */
function expectedByStage(list: ItemBody[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const stage of STAGES) out[stage] = { succeeded: 0, failed: 0, needs_review: 0 };
  for (const item of list) {
    const at = STAGES.indexOf(item.stage as (typeof STAGES)[number]);
    for (let i = 0; i < at; i++) out[STAGES[i]!]!.succeeded!++;
    if (at < 0) continue;
    const here = out[STAGES[at]!]!;
    if (item.status === 'succeeded') here.succeeded!++;
    else if (item.status === 'failed') here.failed!++;
    else if (item.status === 'needs_review') here.needs_review!++;
  }
  return out;
}

test('every family is exposed, with its type, without an API key', { timeout: TEST_TIMEOUT_MS }, async () => {
  await stack.api('/v1/batches?limit=1'); // one request with a route, so the histogram has a series
  const { text } = await scrape();
  for (const [name, type] of [
    ['batchflow_http_request_duration_seconds', 'histogram'],
    ['batchflow_batches', 'gauge'],
    ['batchflow_items_total', 'counter'],
    ['batchflow_compensations_total', 'counter'],
    ['batchflow_activity_duration_seconds', 'histogram'],
    ['process_cpu_user_seconds_total', 'counter'],
    ['nodejs_eventloop_lag_seconds', 'gauge'],
  ]) {
    assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `# TYPE ${name} ${type}`);
    assert.ok(text.includes(`# HELP ${name} `), `# HELP ${name}`);
  }
  // Every status is a series, 0 included.
  for (const status of ['queued', 'running', 'completed', 'partial', 'failed', 'cancelled'])
    assert.match(text, new RegExp(`^batchflow_batches\\{status="${status}"\\} \\d+$`, 'm'));
  assert.match(text, /^batchflow_http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/v1\/batches",status="200"\} \d+$/m);
});

test(
  'a batch with failures and retries moves items, compensations, activity latency, HTTP latency and the batches gauge by what it did',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const total = 20;
    const rejected = new Set(['sku-3', 'sku-11', 'sku-17']);
    target.faults.rejectRefs = rejected;
    const chunkSize = 5;
    const before = await scrape();

    const batchId = await submit(stack, { items: items(total), chunk_size: chunkSize, max_parallel_chunks: 2 });
    const ended = await waitForBatch(stack, batchId);
    assert.equal(ended.status, 'partial');
    const list = await allItems(stack, batchId);
    // Exactly three reads of one batch, counted under its route template.
    for (let i = 0; i < 3; i++) assert.equal((await stack.api(`/v1/batches/${batchId}`)).status, 200);
    assert.equal((await stack.api('/no/such/route')).status, 404);
    const afterRun = await scrape();
    const delta = (name: string, labels?: Record<string, string>): number => afterRun.get(name, labels) - before.get(name, labels);

    const expected = expectedByStage(list);
    t.diagnostic(`expected by stage: ${JSON.stringify(expected)}`);
    for (const stage of STAGES) {
      for (const outcome of ['succeeded', 'failed', 'needs_review']) {
        assert.equal(
          delta('batchflow_items_total', { stage, outcome }),
          expected[stage]![outcome],
          `items_total{stage=${stage},outcome=${outcome}}`,
        );
      }
    }
    assert.equal(expected.publish!.failed, rejected.size);
    assert.equal(
      delta('batchflow_items_total', { stage: 'publish', outcome: 'retried' }),
      TRANSIENT_CREATES,
      'the 503s came back for another dispatch',
    );
    assert.equal(target.creates.filter((c) => c.status === 503).length, TRANSIENT_CREATES);
    // The rejected items had been staged by ingest: the per-chunk undo of failed items unstaged them.
    assert.equal(delta('batchflow_compensations_total', { outcome: 'undone' }), rejected.size);
    assert.equal(delta('batchflow_compensations_total', { outcome: 'orphaned' }), 0);

    const chunks = Math.ceil(total / chunkSize);
    for (const activity of STAGES) {
      const calls = delta('batchflow_activity_duration_seconds_count', { activity, outcome: 'completed' });
      assert.ok(calls >= chunks, `${activity}: ${calls} calls timed, at least one per chunk (${chunks})`);
    }
    assert.ok(delta('batchflow_activity_duration_seconds_count', { activity: 'finishBatch' }) >= 1);

    assert.ok(
      delta('batchflow_http_request_duration_seconds_count', { method: 'GET', route: '/v1/batches/:id', status: '200' }) >= 3,
      'the reads, under the route template',
    );
    assert.ok(
      delta('batchflow_http_request_duration_seconds_count', { method: 'POST', route: '/v1/batches', status: '202' }) === 1,
      'the submission',
    );
    assert.ok(
      delta('batchflow_http_request_duration_seconds_count', { route: 'unmatched', status: '404' }) >= 1,
      'unmatched paths share one label',
    );
    assert.ok(!afterRun.text.includes(batchId), 'no batch id in a label');

    assert.equal(afterRun.get('batchflow_batches', { status: 'partial' }), 1);
    assert.equal(afterRun.get('batchflow_batches'), 1, 'one batch in this schema');
  },
);

test(
  'a rollback moves the compensation counter by the items it undid, and the gauge shows the failed batch',
  { timeout: TEST_TIMEOUT_MS },
  async (t) => {
    const total = 40;
    const rejected = new Set(
      items(total)
        .filter((_, i) => i % 2 === 0)
        .map((i) => i.ref),
    );
    target.faults.rejectRefs = rejected;
    const before = await scrape();

    const batchId = await submit(stack, { items: items(total), chunk_size: 5, max_parallel_chunks: 2, max_failure_ratio: 0.2 });
    const ended = await waitForBatch(stack, batchId);
    assert.equal(ended.status, 'failed');
    const list = await allItems(stack, batchId);
    const afterRun = await scrape();
    const delta = (name: string, labels?: Record<string, string>): number => afterRun.get(name, labels) - before.get(name, labels);

    const tally = (status: string): number => list.filter((i) => i.status === status).length;
    t.diagnostic(`ended: compensated ${tally('compensated')}, failed ${tally('failed')}, cancelled ${tally('cancelled')}`);
    assert.ok(tally('compensated') > 0, 'the rollback undid published items');
    // Every item whose effects were undone counts once: those rolled back, and the rejected ones (staged by ingest).
    assert.equal(delta('batchflow_compensations_total', { outcome: 'undone' }), tally('compensated') + tally('failed'));
    assert.equal(delta('batchflow_compensations_total', { outcome: 'orphaned' }), tally('orphaned'));
    assert.ok(delta('batchflow_activity_duration_seconds_count', { activity: 'compensate', outcome: 'completed' }) >= 1);
    assert.equal(delta('batchflow_items_total', { stage: 'publish', outcome: 'failed' }), tally('failed'));

    assert.equal(afterRun.get('batchflow_batches', { status: 'failed' }), 1);
    assert.equal(afterRun.get('batchflow_batches', { status: 'partial' }), 1);
    assert.equal(afterRun.get('batchflow_batches'), 2);
  },
);
