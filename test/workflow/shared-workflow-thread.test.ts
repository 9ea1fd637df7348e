/**
 * The sharer (src/temporal/shared-workflow-thread.ts): Workers made by one sharer with the same
 * bundle run their workflows in one workflow thread, each on its own task queue; the thread
 * outlives the first Worker to stop, and a Worker with another bundle gets a thread of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { shareWorkflowThread } from '../../src/temporal/shared-workflow-thread';
import { connectTemporal, uniqueTaskQueue } from '../helpers/temporal';

const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: console.error,
};

test('two Workers of one sharer run both queues on one workflow thread', { timeout: 120_000 }, async () => {
  const temporal = await connectTemporal();
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../helpers/echo-workflow'), logger: quiet });
  const sharer = shareWorkflowThread();
  const [q1, q2] = [uniqueTaskQueue(), uniqueTaskQueue()];
  // Every Worker made and run, so that a failed assertion still stops them (a running Worker would keep the test alive).
  const made: Worker[] = [];
  const runs: Promise<void>[] = [];
  const run = (w: Worker): Promise<void> => {
    const r = w.run();
    runs.push(r);
    return r;
  };
  const make = async (taskQueue: string, workflowBundle = bundle): Promise<Worker> => {
    const w = await sharer.Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundle,
    });
    made.push(w);
    return w;
  };
  const echo = (taskQueue: string, value: string): Promise<string> =>
    temporal.client.workflow.execute('echo', { taskQueue, workflowId: `echo-${taskQueue}-${value}`, args: [value] });
  try {
    const [w1, w2] = [await make(q1), await make(q2)];
    assert.equal(sharer.threads(), 1);
    const r1 = run(w1);
    const r2 = run(w2);
    assert.deepEqual(await Promise.all([echo(q1, 'a'), echo(q2, 'b')]), ['a', 'b']);

    // The first Worker to stop leaves the thread to the other.
    w1.shutdown();
    await r1;
    assert.equal(await echo(q2, 'c'), 'c');
    w2.shutdown();
    await r2;

    // Once both have stopped the thread is gone: the next Worker starts one.
    const w3 = await make(q1);
    assert.equal(sharer.threads(), 2);
    // Another bundle is another thread, beside the shared one.
    const other = { ...bundle, code: `/* another build */\n${bundle.code}` };
    const w4 = await make(q2, other);
    assert.equal(sharer.threads(), 3);
    const both = [run(w3), run(w4)];
    assert.deepEqual(await Promise.all([echo(q1, 'd'), echo(q2, 'e')]), ['d', 'e']);
    w3.shutdown();
    w4.shutdown();
    await Promise.all(both);
  } finally {
    for (const w of made) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.allSettled(runs);
    await temporal.close();
  }
});
