/**
 * Worker Versioning for rolling deploys (WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID): a worker serving
 * a deployment version gets no work until that version is made current, the way an operator
 * rolls one out (`temporal worker deployment set-current-version`); then the batch runs, pinned to
 * the version it started on (WORKER_VERSIONING_BEHAVIOR's default).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config';
import { resolveTemporalCli } from '../../src/temporal/cli';
import { getBatch, sleep, submit } from '../helpers/api';
import { items, startStack, waitForBatch } from '../helpers/stack';
import { temporalAddress } from '../helpers/temporal';

const exec = promisify(execFile);

test('a versioned worker runs a batch once its version is current, and the batch is pinned to it', { timeout: 180_000 }, async () => {
  // As an operator sets them; a name of its own, since deployments are namespace-wide.
  const deployment = loadConfig({
    WORKER_DEPLOYMENT_NAME: `batchflow-${randomBytes(4).toString('hex')}`,
    WORKER_BUILD_ID: 'v1',
  }).workerDeployment!;
  assert.equal(deployment.behavior, 'PINNED', 'pinned unless asked otherwise');
  const stack = await startStack({ deployment });
  try {
    const batchId = await submit(stack, { items: items(8) });
    // No version is current yet: Temporal holds the batch's tasks back.
    await sleep(3_000);
    assert.equal((await getBatch(stack, batchId)).counts.pending, 8, 'nothing ran before the version was made current');

    const cli = await resolveTemporalCli();
    assert.equal(cli.type, 'existing-path');
    const { address, namespace } = await temporalAddress();
    await exec(
      cli.type === 'existing-path' ? cli.path : 'temporal',
      [
        'worker',
        'deployment',
        'set-current-version',
        '--address',
        address,
        '--namespace',
        namespace,
        '--deployment-name',
        deployment.deploymentName,
        '--build-id',
        deployment.buildId,
        '--yes',
      ],
      { timeout: 60_000 },
    );

    const ended = await waitForBatch(stack, batchId);
    assert.equal(ended.status, 'completed');
    const row = await stack.db.db.selectFrom('batches').select('workflow_id').where('id', '=', batchId).executeTakeFirstOrThrow();
    const info = (await stack.client.workflow.getHandle(row.workflow_id).describe()).raw.workflowExecutionInfo?.versioningInfo;
    assert.equal(info?.behavior, 1 /* VERSIONING_BEHAVIOR_PINNED */);
    assert.deepEqual(
      { deploymentName: info?.deploymentVersion?.deploymentName, buildId: info?.deploymentVersion?.buildId },
      { deploymentName: deployment.deploymentName, buildId: 'v1' },
    );
  } finally {
    await stack.stop();
  }
});

test('Worker Versioning needs both the deployment name and the build id', () => {
  assert.equal(loadConfig({}).workerDeployment, undefined);
  assert.throws(() => loadConfig({ WORKER_BUILD_ID: 'v2' }), /needs both/);
  assert.equal(
    loadConfig({ WORKER_DEPLOYMENT_NAME: 'batchflow', WORKER_BUILD_ID: 'v2', WORKER_VERSIONING_BEHAVIOR: 'auto-upgrade' }).workerDeployment
      ?.behavior,
    'AUTO_UPGRADE',
  );
});
