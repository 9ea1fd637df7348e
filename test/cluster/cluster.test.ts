/**
 * The production topology, run: a two-node Temporal cluster on PostgreSQL (test/cluster/cluster.ts,
 * the walk-through of docs/production.md), and batchflow on it as production runs it: `npm run
 * migrate`, two APIs and three workers on the shipped defaults. It shows, in order:
 *   1. a 20,000-item batch completes, every ref published once;
 *   2. a node SIGKILLed mid-batch: the batch completes on the other node, reads keep answering
 *      through both APIs, and the node, restarted, rejoins and takes history shards back;
 *   3. a rolling deploy of the workers mid-batch loses nothing, and every history the cluster holds
 *      replays against the workflow code;
 *   4. the operators' visibility queries on SQL visibility, through the CLI and the Web UI;
 *   5. the figures: the same 20,000-item batch on the suite's dev server, with each node's /metrics.
 *
 * `npm run test:cluster` (test/run.ts starts the dev server for step 5). Writes the figures to
 * bench/results.md (the `cluster` block) and screenshots to test/artifacts/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, type Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { resolveTemporalCli } from '../../src/temporal/cli';
import { connectClosable } from '../../src/temporal/grpc-retry';
import { writeBlock } from '../../bench/report';
import { launchBrowser, screenshot } from '../helpers/browser';
import { startPublishTarget, type PublishTarget } from '../helpers/publish-target';
import { suiteBundle } from '../helpers/temporal';
import {
  apiFetch,
  assertFinalState,
  catalogItems,
  finishedItems,
  submitBatch,
  waitFor,
  waitForEnd,
  waitForFinished,
} from '../helpers/faults';
import { startBatchflow, type Batchflow } from './batchflow';
import { down, scrapeMetrics, shardOwnerOf, signalNode, startNode, up, type ClusterState } from './cluster';
import { metricTotals, figuresTable, type RunFigures } from './figures';
import { startReader, type Reader } from './reader';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const BIG = 20_000;
const KILLED = 20_000;
const DEPLOYED = 20_000;
/**
 * How long the publish target takes to answer during the fault cases, as a real store does: at the
 * loopback target's speed a batch is over in seconds, before a node's death or a worker's restart
 * could reach it. (The first batch and the figures run at full speed.)
 */
const PUBLISH_LATENCY_MS = 20;
const REJECTED = 25;
/** numHistoryShards: docker/temporal/batchflow.yaml's default, which the nodes run. */
const SHARDS = 4;
const END_MS = 20 * 60_000;
const run = promisify(execFile);

let cluster: ClusterState;
let target: PublishTarget;
let bf: Batchflow;
let connection: Connection;
let client: Client;
let tenantBatches = 0;
const figures: RunFigures[] = [];

const items = (prefix: string, n: number) => catalogItems(n).map((it, i) => ({ ...it, ref: `${prefix}-${i}` }));

/**
 * The batch's end: its items final per the database (polled there, so the reads the test counts
 * are its reader's), then its status final per the API.
 */
async function waitForBatch(batchId: string, total: number, on: Batchflow = bf, api: () => string = anyApi) {
  await waitForFinished(on.db, batchId, total, END_MS, on);
  return waitForEnd(api, batchId, 120_000, on);
}

/** The API to use for the n-th request: the clients spread theirs over both. */
let turn = 0;
const anyApi = (): string => bf.baseUrls()[turn++ % bf.apis.length]!;

async function submit(prefix: string, n: number, api: string): Promise<{ batchId: string; workflowId: string; at: number }> {
  const at = Date.now();
  const ids = await submitBatch(api, { items: items(prefix, n) });
  tenantBatches++;
  return { ...ids, at };
}

/** Owned history shards per node, from each node's /metrics (null: the node does not answer). */
async function shardsByNode(): Promise<Array<number | null>> {
  return Promise.all(
    cluster.layout.nodes.map((_, i) =>
      scrapeMetrics(cluster.layout, i).then(
        (text) => metricTotals(text).get('numshards_gauge') ?? 0,
        () => null,
      ),
    ),
  );
}

before(async () => {
  cluster = await up({ log: (line) => console.error(`[cluster] ${line}`) });
  target = await startPublishTarget();
  bf = await startBatchflow({
    adminUrl: cluster.layout.adminUrl,
    database: 'batchflow_cluster',
    temporal: { address: cluster.layout.address, namespace: cluster.layout.namespace },
    publishUrl: target.url,
    apis: 2,
    workers: 3,
  });
  connection = await connectClosable({ address: cluster.layout.address });
  client = new Client({ connection, namespace: cluster.layout.namespace });
});

after(async () => {
  await bf?.close();
  await target?.close();
  await connection?.close();
  if (cluster) await down(cluster);
});

describe('batchflow on a two-node Temporal cluster on PostgreSQL', { timeout: 60 * 60_000 }, () => {
  // The ring places shards by the nodes' addresses: on the default ports, 1 and 3 of the 4.
  test('npm run migrate set up the database, and both nodes own history shards', async (t) => {
    t.diagnostic(bf.migrateOutput.trim());
    assert.match(bf.migrateOutput, /applied to postgres: 0001_initial/);
    const shards = await waitFor(
      'both nodes to own shards',
      async () => {
        const s = await shardsByNode();
        return s.every((n) => (n ?? 0) > 0) && s.reduce((a, n) => a! + n!, 0) === SHARDS ? s : undefined;
      },
      120_000,
    );
    t.diagnostic(`history shards by node: ${shards.join(', ')}`);
  });

  test('the two APIs count one tenant against one rate limit, in PostgreSQL', async () => {
    // Each API leases a block of the tenant's read budget from the shared store (a twentieth:
    // src/api/middleware/rate-leases.ts) and grants from it; the second API's lease is counted
    // after the first's, so it sees one lease less, and the store holds both.
    const read = async (api: string) => {
      const res = await apiFetch(api, '/v1/batches?limit=1');
      assert.equal(res.status, 200, await res.text());
      const header = (name: string) => Number(res.headers.get(name));
      return { limit: header('x-ratelimit-limit'), remaining: header('x-ratelimit-remaining'), reset: header('x-ratelimit-reset') };
    };
    const [api1, api2] = bf.baseUrls() as [string, string];
    const first = await read(api1);
    const second = await read(api2);
    assert.equal(second.reset, first.reset, 'both reads fell in one window');
    const lease = Math.floor(first.limit / 20);
    assert.equal(second.remaining, first.remaining - lease, `remaining: API 1 ${first.remaining}, then API 2 ${second.remaining}`);
    const { rows } = await sql<{ key: string; points: number }>`select key, points from rate_limits where key like 'reads%'`.execute(
      bf.db.db,
    );
    assert.deepEqual(
      rows.map((r) => r.points),
      [2 * lease],
      `the store: ${JSON.stringify(rows)}`,
    );
  });

  test(`a ${BIG.toLocaleString('en')}-item batch completes, every ref published once`, async (t) => {
    const before = await Promise.all(cluster.layout.nodes.map((_, i) => scrapeMetrics(cluster.layout, i).then(metricTotals)));
    const batch = await submit('big', BIG, bf.baseUrls()[0]!);
    const end = await waitForBatch(batch.batchId, BIG);
    const seconds = (Date.now() - batch.at) / 1000;
    const afterMetrics = await Promise.all(cluster.layout.nodes.map((_, i) => scrapeMetrics(cluster.layout, i).then(metricTotals)));
    assert.equal(end.status, 'completed', JSON.stringify(end.counts));
    await assertFinalState(t, { db: bf.db, baseUrl: anyApi(), batchId: batch.batchId, total: BIG, target, expectStatus: 'completed' });
    const history = await historyOf(batch.workflowId);
    figures.push({
      where: 'cluster (2 nodes)',
      items: BIG,
      seconds,
      history,
      nodes: before.map((b, i) => ({ before: b, after: afterMetrics[i]! })),
    });
    t.diagnostic(
      `${BIG} items in ${seconds.toFixed(1)} s: ${(BIG / seconds).toFixed(0)} items/s; history ${history.runs} runs, ${history.events} events`,
    );
  });

  test('the node that owns the batch is SIGKILLed: the other finishes it, reads keep answering, the node rejoins', async (t) => {
    target.faults.latencyMs = PUBLISH_LATENCY_MS;
    const batch = await submit('killed', KILLED, bf.baseUrls()[1]!);
    const reader = startReader(bf.baseUrls(), batch.batchId);
    let doomed: number;
    try {
      await waitForFinished(bf.db, batch.batchId, KILLED / 4, END_MS, bf);
      // The node whose history service owns the batch workflow's shard: its state must move.
      doomed = await shardOwnerOf(cluster.layout, batch.workflowId);
      await signalNode(cluster, doomed, 'SIGKILL');
      const killedAt = Date.now();
      const atKill = await finishedItems(bf.db, batch.batchId);
      t.diagnostic(`node${doomed + 1} (owner of the batch's history shard) SIGKILLed at ${atKill} of ${KILLED} items final`);
      assert.ok(atKill < KILLED, 'the kill landed mid-batch');

      const survivor = 1 - doomed;
      await waitFor(
        `node${survivor + 1} to own every shard`,
        async () => ((await shardsByNode())[survivor] === SHARDS ? true : undefined),
        180_000,
      );
      t.diagnostic(`node${survivor + 1} owns all ${SHARDS} shards ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
      const end = await waitForBatch(batch.batchId, KILLED);
      assert.equal(end.status, 'completed', JSON.stringify(end.counts));
      t.diagnostic(
        `the batch ended ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill, ${((Date.now() - batch.at) / 1000).toFixed(1)} s after its submit`,
      );
      assert.equal(await shardOwnerOf(cluster.layout, batch.workflowId), survivor, "the batch's shard moved to the survivor");
      await assertFinalState(t, { db: bf.db, baseUrl: anyApi(), batchId: batch.batchId, total: KILLED, target, expectStatus: 'completed' });
      assertReadsAnswered(t, reader, killedAt);
    } finally {
      reader.stop();
      target.faults.latencyMs = 0;
    }

    await startNode(cluster, doomed);
    const rejoined = await waitFor(
      `node${doomed + 1} to rejoin and take shards back`,
      async () => {
        const s = await shardsByNode();
        return (s[doomed] ?? 0) > 0 && (s[0] ?? 0) + (s[1] ?? 0) === SHARDS ? s : undefined;
      },
      180_000,
    );
    t.diagnostic(`after the restart, history shards by node: ${rejoined.join(', ')}`);
  });

  let deployed: { batchId: string; workflowId: string };
  const running: { cli: string[]; ui: string[] } = { cli: [], ui: [] };

  test('a rolling deploy of the workers mid-batch loses nothing; the cluster histories replay', async (t) => {
    const rejected = new Set(Array.from({ length: REJECTED }, (_, i) => `deployed-${i * 97}`));
    target.faults.rejectRefs = rejected;
    target.faults.latencyMs = PUBLISH_LATENCY_MS;
    const batch = await submit('deployed', DEPLOYED, bf.baseUrls()[0]!);
    deployed = batch;
    // While it runs: the operators' "what is running" query, through the CLI and the UI.
    for (const [how, list] of [
      ['cli', cliList],
      ['ui', uiList],
    ] as const) {
      running[how] = await waitFor(
        `BatchStatus="running" to list it (${how})`,
        async () => {
          const ids = await list('BatchStatus="running"');
          return ids.includes(batch.workflowId) ? ids : undefined;
        },
        60_000,
      );
    }

    // One by one, as an orchestrator rolls a deployment: the new worker first, ready and polling,
    // then the old one stops (SIGTERM: running chunks finish or hand their attempt back).
    const old = [...bf.workers];
    await waitForFinished(bf.db, batch.batchId, DEPLOYED / 10, END_MS, bf);
    for (const [i, worker] of old.entries()) {
      await bf.startWorker(`worker-${i + 1}-v2`);
      const finished = await finishedItems(bf.db, batch.batchId);
      assert.ok(finished < DEPLOYED, `worker ${i + 1} is replaced mid-batch (${finished} of ${DEPLOYED} final)`);
      await worker.stop();
      t.diagnostic(`worker ${i + 1} replaced at ${finished} of ${DEPLOYED} items final`);
    }
    const end = await waitForBatch(batch.batchId, DEPLOYED);
    assert.equal(end.status, 'partial', JSON.stringify(end.counts));
    target.faults.latencyMs = 0;
    assert.equal(end.counts.failed, REJECTED, JSON.stringify(end.counts));
    await assertFinalState(t, { db: bf.db, baseUrl: anyApi(), batchId: batch.batchId, total: DEPLOYED, target, expectStatus: 'partial' });

    // Every run of every workflow the cluster holds, replayed against this code.
    const results = [];
    const histories = client.workflow.list({ query: 'ExecutionStatus != "Running"' }).intoHistories();
    for await (const r of Worker.runReplayHistories({ workflowBundle: await suiteBundle(), replayName: 'cluster-replay' }, histories))
      results.push(r);
    const failed = results.filter((r) => r.error);
    t.diagnostic(`replayed ${results.length} workflow runs from the cluster`);
    assert.ok(results.length >= tenantBatches, `${results.length} runs replayed`);
    assert.deepEqual(
      failed.map((r) => `${r.workflowId}: ${r.error?.message}`),
      [],
    );
  });

  test('visibility queries on SQL visibility, through the CLI and the Web UI', async (t) => {
    assert.ok(deployed, 'the rolling-deploy batch ran');
    t.diagnostic(`BatchStatus="running" while it ran: CLI ${running.cli.length}, UI ${running.ui.length}`);
    // Visibility is written after the fact (the visibility queue): wait for the final values.
    const byTenant = await waitFor(
      'TenantId="dev" to list every batch',
      async () => {
        const ids = await cliList('TenantId="dev"');
        return ids.length === tenantBatches ? ids : undefined;
      },
      60_000,
    );
    assert.equal(new Set(byTenant).size, tenantBatches);
    assert.deepEqual(await cliList('TenantId="someone-else"'), []);
    const failing = await waitFor(
      'FailedCount > 0 to list the partial batch',
      async () => {
        const ids = await cliList('FailedCount > 0');
        return ids.length === 1 ? ids : undefined;
      },
      60_000,
    );
    assert.deepEqual(failing, [deployed.workflowId]);
    assert.deepEqual(await uiList('FailedCount > 0'), [deployed.workflowId]);
    assert.equal((await uiList('TenantId="dev"')).length, tenantBatches);
    assert.deepEqual(await cliList('BatchStatus="running"'), [], 'nothing is running any more');

    // The page an operator opens: the UI's workflow list, filtered by the same query.
    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
      const url = `${cluster.layout.uiUrl}/namespaces/${cluster.layout.namespace}/workflows?query=${encodeURIComponent('FailedCount > 0')}`;
      await page.goto(url);
      await page.getByText(deployed.workflowId).first().waitFor({ timeout: 60_000 });
      t.diagnostic(`screenshot: ${await screenshot(page, 'cluster-ui-failed-count')}`);
    } finally {
      await browser.close();
    }
  });

  test(`figures: the same ${BIG.toLocaleString('en')}-item batch on the dev server, beside the cluster`, async (t) => {
    const address = process.env.TEMPORAL_TEST_ADDRESS;
    const namespace = process.env.TEMPORAL_TEST_NAMESPACE;
    assert.ok(address && namespace, 'npm run test:cluster starts the dev server (test/run.ts)');
    // The cluster's batchflow stops, so the two runs share the machine alike.
    await bf.close();
    const devTarget = await startPublishTarget();
    const dev = await startBatchflow({
      adminUrl: cluster.layout.adminUrl,
      database: 'batchflow_cluster_dev',
      temporal: { address, namespace },
      publishUrl: devTarget.url,
      apis: 2,
      workers: 3,
    });
    try {
      const at = Date.now();
      const batch = await submitBatch(dev.baseUrls()[0]!, { items: items('big', BIG) });
      const end = await waitForBatch(batch.batchId, BIG, dev, () => dev.baseUrls()[0]!);
      const seconds = (Date.now() - at) / 1000;
      assert.equal(end.status, 'completed');
      const devConnection = await connectClosable({ address });
      const history = await historyOf(batch.workflowId, new Client({ connection: devConnection, namespace })).finally(() =>
        devConnection.close(),
      );
      figures.unshift({ where: 'dev server', items: BIG, seconds, history });
    } finally {
      await dev.close();
      await devTarget.close();
    }
    const table = figuresTable(figures, new Date());
    for (const line of table) t.diagnostic(line);
    writeBlock(path.join(__dirname, '..', '..', 'bench', 'results.md'), 'cluster', table);
  });
});

/** Runs and events of a batch's workflow, over its continue-as-new chain. */
async function historyOf(workflowId: string, c: Client = client): Promise<{ runs: number; events: number }> {
  let runs = 0;
  let events = 0;
  for await (const h of c.workflow.list({ query: `WorkflowId="${workflowId}"` }).intoHistories()) {
    runs++;
    events += (h.history as { events?: unknown[] }).events?.length ?? 0;
  }
  return { runs, events };
}

/** Workflow ids `temporal workflow list --query` prints, against the load balancer. */
async function cliList(query: string): Promise<string[]> {
  const cli = await resolveTemporalCli();
  assert.equal(cli.type, 'existing-path');
  const { stdout } = await run(cli.type === 'existing-path' ? cli.path : 'temporal', [
    'workflow',
    'list',
    '--address',
    cluster.layout.address,
    '--namespace',
    cluster.layout.namespace,
    '--query',
    query,
    '--output',
    'jsonl',
  ]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { execution: { workflowId: string } }).execution.workflowId);
}

/** Workflow ids the Web UI server's API answers for `query` (what its list page shows). */
async function uiList(query: string): Promise<string[]> {
  const res = await fetch(
    `${cluster.layout.uiUrl}/api/v1/namespaces/${cluster.layout.namespace}/workflows?query=${encodeURIComponent(query)}`,
  );
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { executions?: Array<{ execution: { workflowId: string } }> };
  return (body.executions ?? []).map((e) => e.execution.workflowId);
}

/** Both APIs answered progress reads after the kill, and nearly all of them. */
function assertReadsAnswered(t: { diagnostic(s: string): void }, reader: Reader, since: number): void {
  const afterKill = reader.reads.filter((r) => r.at >= since);
  for (const api of bf.baseUrls()) {
    const mine = afterKill.filter((r) => r.api === api);
    const ok = mine.filter((r) => r.status === 200);
    const ms = ok.map((r) => r.ms).sort((a, b) => a - b);
    t.diagnostic(
      `${api} after the kill: ${ok.length} of ${mine.length} reads answered 200; p50 ${ms[Math.floor(ms.length / 2)] ?? '-'} ms, max ${ms.at(-1) ?? '-'} ms; others: ${JSON.stringify(mine.filter((r) => r.status !== 200).slice(0, 5))}`,
    );
    assert.ok(ok.length > 0, `${api} answered no read after the kill`);
    assert.ok(ok.length >= mine.length * 0.95, `${api}: ${mine.length - ok.length} of ${mine.length} reads failed after the kill`);
  }
}
