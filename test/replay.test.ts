/**
 * Replays the committed histories in test/histories/ against the current workflow code: a change
 * that would break running batches (a different command at the same point of history) fails here
 * instead of in production. One deliberately altered history proves the check can fail at all.
 * The histories are the 0.1 baseline, recorded with no patch gate in the code: from here on a
 * workflow change replays them, or is gated with patched().
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker, type ReplayResult } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { suiteBundle } from './helpers/temporal';

// A replay that fails is logged by the SDK at WARN/ERROR; the assertions say what matters.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const HISTORIES = path.join(__dirname, 'histories');

/** The 0.1 baseline: recorded with no patch gate in the workflow code. */
const BASELINE = [
  // A batch's life: completed, continued as new, partial, cancelled by the API or from the Temporal UI.
  'completed',
  'continue-as-new-first',
  'continue-as-new-last',
  'cancelled-by-signal',
  'partial-rejected',
  'cancelled-externally',
  // The saga, control signals and updates.
  'saga-item-rejected',
  'failure-ratio-rollback',
  'cancelled-rollback',
  'cancelled-keep-compensated',
  'rollback-orphaned',
  'paused-resumed',
  'configured',
  'redrive-running',
  'redrive-finished',
  'transient-retried',
  'cancelled-externally-saga',
  // Completion webhooks: the batch run that starts the delivery, and the delivery.
  'webhook-delivered',
  'webhook-delivery',
  // BatchStatus and FailedCount upserted as they change, activity summaries.
  'visibility-kept-current',
];

/**
 * The scenarios test/record-histories.ts writes; a missing one is a failure, not a smaller suite.
 * A scenario added after 0.1 goes after the baseline (it may carry the marker of its patch).
 */
const EXPECTED = [...BASELINE];

/** The marker `patched()` records: the SDK's name for it. */
const PATCH_MARKER = 'core_patch';

type JsonEvent = {
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType: { name: string } };
  markerRecordedEventAttributes?: { markerName: string };
} & Record<string, unknown>;
interface JsonHistory {
  events: JsonEvent[];
}

const files = new Map<string, JsonHistory>();

async function replay(histories: Array<{ workflowId: string; json: JsonHistory }>): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  const iterable = histories.map(({ workflowId, json }) => ({ workflowId, history: historyFromJSON(json) }));
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await suiteBundle(), replayName: 'batchflow-replay-test' },
    iterable,
  )) {
    results.push(result);
  }
  return results;
}

before(async () => {
  for (const name of (await fs.readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort()) {
    files.set(path.basename(name, '.json'), JSON.parse(await fs.readFile(path.join(HISTORIES, name), 'utf8')) as JsonHistory);
  }
});

test('the recorded scenarios are all present', () => {
  assert.deepEqual(
    EXPECTED.filter((name) => !files.has(name)),
    [],
    'run `npx tsx test/record-histories.ts`',
  );
});

test('the histories are the baseline: recorded with no patch gate in the workflow code', () => {
  const gated = BASELINE.filter((name) =>
    files.get(name)?.events.some((e) => e.markerRecordedEventAttributes?.markerName === PATCH_MARKER),
  );
  assert.deepEqual(gated, [], 'a patch marker in a baseline history');
});

test('every committed history replays against the current workflow code', { timeout: 120_000 }, async () => {
  const histories = [...files].map(([name, json]) => ({ workflowId: name, json }));
  assert.ok(histories.length >= EXPECTED.length);
  const results = await replay(histories);
  assert.deepEqual(
    results.map((r) => r.workflowId),
    histories.map((h) => h.workflowId),
    'one result per history',
  );
  const failures = results.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error?.name}: ${r.error?.message}`);
  assert.deepEqual(failures, [], 'no history fails to replay; if the change is intended, guard it with patched()');
});

/**
 * The altered copy is built here from completed.json rather than committed beside it: it then
 * follows every re-recording, and nobody has to keep two files in step.
 */
test('an altered history (classify scheduled as publish) fails with DeterminismViolationError', { timeout: 120_000 }, async () => {
  const original = files.get('completed');
  assert.ok(original, 'completed.json is present');
  const altered = structuredClone(original);
  const scheduled = altered.events.find((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'classify');
  assert.ok(scheduled, 'the history schedules classify');
  scheduled.activityTaskScheduledEventAttributes!.activityType.name = 'publish';

  const [result] = await replay([{ workflowId: 'altered-completed', json: altered }]);
  assert.ok(result, 'a replay result');
  assert.ok(
    result.error instanceof DeterminismViolationError,
    `expected DeterminismViolationError, got ${result.error?.name}: ${result.error?.message}`,
  );
  assert.match(result.error.message, /publish/);
});
