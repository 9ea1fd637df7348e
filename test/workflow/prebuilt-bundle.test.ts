/**
 * The prebuilt workflow bundle (`npm run build:workflows`, what the Docker image ships): written to
 * a file, it holds the same workflows the worker bundles at start, a worker started from it runs a
 * batch to completion, and every committed history replays against it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { writeWorkflowBundle } from '../../src/temporal/bundle';
import { allItems, submit } from '../helpers/api';
import { startPublishTarget } from '../helpers/publish-target';
import { items, startStack, waitForBatch } from '../helpers/stack';
import { sharedBundle } from '../helpers/temporal';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const HISTORIES = path.join(__dirname, '..', 'histories');
let dir = '';
let codePath = '';

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'batchflow-bundle-'));
  codePath = path.join(dir, 'workflow-bundle.js');
  await writeWorkflowBundle(codePath);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the prebuilt file is byte for byte the bundle a worker makes at start', { timeout: 120_000 }, async () => {
  const file = await fsp.readFile(codePath, 'utf8');
  assert.ok(file.length > 0);
  assert.equal(file, (await sharedBundle()).code);
});

test('a worker started from the prebuilt bundle runs a batch to completion', { timeout: 180_000 }, async () => {
  const target = await startPublishTarget();
  const stack = await startStack({ workflowBundle: { codePath }, publishUrl: target.url });
  try {
    const n = 12;
    const batchId = await submit(stack, { items: items(n), stages: ['classify', 'publish'], chunk_size: 5 });
    const body = await waitForBatch(stack, batchId);
    assert.equal(body.status, 'completed', JSON.stringify(body));
    assert.equal(body.counts.published, n);
    assert.equal(body.counts.failed, 0);
    const all = await allItems(stack, batchId);
    assert.equal(all.filter((i) => i.status === 'succeeded' && i.published_id).length, n);
    assert.equal(target.items.size, n);
    assert.deepEqual(
      [...target.countByRef().values()].filter((c) => c !== 1),
      [],
      'each ref published once',
    );
  } finally {
    await stack.stop();
    await target.close();
  }
});

test('every committed history replays against the prebuilt bundle', { timeout: 120_000 }, async () => {
  const names = (await fsp.readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();
  assert.ok(names.length > 0, 'there are committed histories');
  const histories = await Promise.all(
    names.map(async (name) => ({
      workflowId: path.basename(name, '.json'),
      history: historyFromJSON(JSON.parse(await fsp.readFile(path.join(HISTORIES, name), 'utf8'))),
    })),
  );
  const results: ReplayResult[] = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath }, replayName: 'batchflow-prebuilt-replay' }, histories))
    results.push(r);
  assert.deepEqual(
    results.map((r) => r.workflowId),
    histories.map((h) => h.workflowId),
    'one result per history',
  );
  const failures = results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error?.name}: ${r.error?.message}`);
  assert.deepEqual(failures, []);
});
