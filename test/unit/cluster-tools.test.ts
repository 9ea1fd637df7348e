/**
 * The cluster test's pieces that need no cluster: the Go-built server is the release compose's
 * images carry, `npm run cluster -- down` signals only what `up` started, and the /metrics parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION, serverToolsPaths } from '../../src/temporal/server-build';
import net from 'node:net';
import { clusterLayout, down, readState, up, type ClusterState } from '../cluster/cluster';
import { metricTotals } from '../cluster/figures';

const compose = fs.readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8');

test('the Go-built server, schema tool and UI are the releases compose runs', () => {
  const bare = (v: string) => v.replace(/^v/, '');
  assert.ok(compose.includes(`temporalio/server:\${TEMPORAL_VERSION:-${bare(TEMPORAL_SERVER_VERSION)}}`), 'temporalio/server');
  assert.ok(compose.includes(`temporalio/admin-tools:\${TEMPORAL_ADMINTOOLS_VERSION:-${bare(TEMPORAL_SERVER_VERSION)}-`), 'admin-tools');
  assert.ok(compose.includes(`temporalio/ui:\${TEMPORAL_UI_VERSION:-${bare(TEMPORAL_UI_VERSION)}}`), 'temporalio/ui');
});

test('compose runs the same Temporal config and setup scripts as the cluster test', () => {
  for (const used of [
    './docker/temporal:/etc/temporal/config/batchflow:ro',
    'exec temporal-server --config config/batchflow --env batchflow start',
    './docker/temporal-schema.sh:',
    './docker/temporal-namespace.sh:',
  ])
    assert.ok(compose.includes(used), used);
});

test('the tools are cached by release, outside the repository', () => {
  const tools = serverToolsPaths({ BATCHFLOW_CACHE_DIR: '/c/bf' });
  assert.equal(tools.server, `/c/bf/temporal-server-${TEMPORAL_SERVER_VERSION}/temporal-server`);
  assert.equal(tools.sqlTool, `/c/bf/temporal-server-${TEMPORAL_SERVER_VERSION}/temporal-sql-tool`);
  assert.equal(tools.schemaDir, `/c/bf/temporal-server-${TEMPORAL_SERVER_VERSION}/schema/postgresql/v12`);
  assert.equal(tools.uiServer, `/c/bf/temporal-ui-server-${TEMPORAL_UI_VERSION}/temporal-ui-server`);
});

test('down signals only the processes up recorded, and only while each is still that program', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-cluster-'));
  try {
    const layout = clusterLayout({ CLUSTER_DIR: dir });
    // A process of ours that `up` started (a sleeping shell), and a pid now held by another program.
    const ours = spawn('/bin/sleep', ['60'], { detached: true, stdio: 'ignore' });
    const other = spawn('/bin/sleep', ['60'], { detached: true, stdio: 'ignore' });
    const state: ClusterState = {
      layout,
      procs: [
        { name: 'node1', pid: ours.pid!, exe: '/bin/sleep', log: '' },
        { name: 'node2', pid: other.pid!, exe: '/usr/local/bin/temporal-server', log: '' },
      ],
    };
    fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
    const said: string[] = [];
    const oursExit = new Promise((r) => ours.once('exit', (_code, signal) => r(signal)));
    await down(state, (line) => said.push(line));
    assert.equal(await oursExit, 'SIGTERM');
    assert.equal(other.exitCode, null);
    assert.equal(other.signalCode, null, 'the recycled pid was left alone');
    assert.ok(
      said.some((l) => l.startsWith(`node2 (pid ${other.pid}) was not running`)),
      said.join('\n'),
    );
    assert.equal(readState(layout), null, 'state.json is gone');
    other.kill('SIGKILL');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('up refuses at once, naming the port, when a port of the cluster is taken', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as net.AddressInfo).port;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-cluster-'));
  try {
    // The load balancer's port is base + 233: put it on the taken one.
    const layout = clusterLayout({ CLUSTER_DIR: dir, CLUSTER_PORT_BASE: String(port - 233) });
    await assert.rejects(up({ layout }), new RegExp(`port ${port} \\(the load balancer\\) is in use`));
    assert.equal(readState(layout), null, 'nothing was started');
  } finally {
    taken.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('metricTotals sums each metric over its label sets', () => {
  const totals = metricTotals(
    [
      '# HELP persistence_requests requests',
      '# TYPE persistence_requests counter',
      'persistence_requests{operation="CreateWorkflowExecution",service_name="history"} 12',
      'persistence_requests{operation="UpdateShard",service_name="history"} 3',
      'numshards_gauge{operation="ShardController",service_name="history"} 2',
      'persistence_latency_sum{operation="x"} 0.25',
      'up 1',
    ].join('\n'),
  );
  assert.equal(totals.get('persistence_requests'), 15);
  assert.equal(totals.get('numshards_gauge'), 2);
  assert.equal(totals.get('persistence_latency_sum'), 0.25);
  assert.equal(totals.get('up'), 1);
  assert.equal(totals.has('# HELP'), false);
});
