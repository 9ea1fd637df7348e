import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attribute, categoryOf, type CallFrame, type CpuProfile } from '../../bench/profile-attribution';

const ROOT = '/srv/batchflow';
const frame = (functionName: string, url: string): CallFrame => ({ functionName, url });
const at = (rel: string): string => `file://${ROOT}/${rel}`;

const classify = frame('classifyItem', at('activities/stages/classify/model.ts'));
const wink = frame('predict', at('node_modules/wink-naive-bayes-text-classifier/src/index.js'));
const builtin = frame('map', '');
const pgParse = frame('parseDataRowMessage', at('node_modules/pg-protocol/dist/parser.js'));
const kysely = frame('executeQuery', at('node_modules/kysely/dist/cjs/query-executor.js'));
const loadRange = frame('loadRange', at('src/db/items.ts'));
const writeResults = frame('writeResults', at('src/db/items.ts'));
const ingest = frame('runIngest', at('activities/stages/ingest/index.ts'));
const activityRunner = frame('execute', at('node_modules/@temporalio/worker/lib/activity.js'));
const converter = frame('toPayload', at('node_modules/@temporalio/common/lib/converter/payload-converter.js'));
const jsonParse = frame('parse', '');

/** Stacks are written root first, as one reads them; categoryOf takes them leaf first. */
const leafFirst = (...rootFirst: CallFrame[]): CallFrame[] => [...rootFirst].reverse();

describe('categoryOf: the first matching frame from the leaf up', () => {
  test("the classifier's library and built-ins count as classify, the stage that called them", () => {
    assert.equal(categoryOf(leafFirst(activityRunner, classify, wink, builtin)), 'classify');
  });

  test('JSON.parse is serialization wherever it is called from, even inside the database driver', () => {
    assert.equal(categoryOf(leafFirst(ingest, kysely, pgParse, jsonParse)), 'serialization');
    assert.equal(categoryOf(leafFirst(activityRunner, converter)), 'serialization');
  });

  test('driver frames are the database, split by the batchflow query function above them', () => {
    assert.equal(categoryOf(leafFirst(ingest, loadRange, kysely)), 'database reads');
    assert.equal(categoryOf(leafFirst(ingest, writeResults, kysely)), 'database writes');
    // A socket callback: the await broke the stack, so no query function is on it.
    assert.equal(categoryOf(leafFirst(frame('onData', 'node:net'), pgParse)), 'database (driver, no caller)');
  });

  test("undici is the HTTP client, called by publish or from its own callbacks; publish's own code is publish", () => {
    const publish = frame('publishOne', at('activities/stages/publish/http.ts'));
    const undici = frame('fetch', 'node:internal/deps/undici/undici');
    assert.equal(categoryOf(leafFirst(activityRunner, publish, undici, builtin)), 'HTTP client (undici)');
    assert.equal(categoryOf(leafFirst(undici, frame('wasm-function[20]', 'wasm://wasm/0002f80e'))), 'HTTP client (undici)');
    const undiciPackage = frame('request', 'file:///app/node_modules/undici/lib/api/api-request.js');
    assert.equal(categoryOf(leafFirst(activityRunner, publish, undiciPackage)), 'HTTP client (undici)');
    assert.equal(categoryOf(leafFirst(activityRunner, publish)), 'publish');
    // The npm package (src/net/http-client.ts) counts the same as Node's bundled copy.
    const request = frame('request', at('node_modules/undici/lib/api/api-request.js'));
    assert.equal(categoryOf(leafFirst(activityRunner, publish, request, builtin)), 'HTTP client (undici)');
    const wrapper = frame('httpCall', at('src/net/http-client.ts'));
    assert.equal(categoryOf(leafFirst(activityRunner, publish, wrapper, builtin)), 'HTTP client (undici)');
  });

  test('the SDK, V8 entries, Node internals and the rest', () => {
    assert.equal(categoryOf(leafFirst(activityRunner)), 'Temporal');
    assert.equal(categoryOf(leafFirst(frame('runWorkflow', at('data/workflow-bundle.js')))), 'Temporal');
    assert.equal(categoryOf([frame('(garbage collector)', '')]), 'GC');
    assert.equal(categoryOf([frame('(idle)', '')]), 'idle');
    assert.equal(categoryOf([frame('(program)', '')]), 'V8 and native (program)');
    assert.equal(categoryOf(leafFirst(frame('pipe', at('node_modules/rxjs/dist/cjs/internal/util/pipe.js')))), 'Temporal');
    assert.equal(categoryOf(leafFirst(frame('makeSyncRequest', 'node:internal/modules/esm/hooks'))), 'module loading');
    assert.equal(categoryOf(leafFirst(frame('processTicksAndRejections', 'node:internal/process/task_queues'))), 'Node internals');
    assert.equal(categoryOf([frame('writev', '')]), 'Node internals');
    assert.equal(categoryOf(leafFirst(frame('chunk', at('src/temporal/chunk.ts')))), 'batchflow, other');
    assert.equal(categoryOf(leafFirst(frame('info', at('node_modules/pino/lib/proto.js')))), 'other');
  });
});

describe('attribute: self time by category over a time window', () => {
  // Nodes: 1 root → 2 (idle), 1 → 3 ingest → 4 kysely (under loadRange via 5).
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 3] },
      { id: 2, callFrame: frame('(idle)', '') },
      { id: 3, callFrame: ingest, children: [5] },
      { id: 5, callFrame: loadRange, children: [4] },
      { id: 4, callFrame: kysely },
    ],
    startTime: 1_000_000,
    endTime: 1_010_000,
    // Samples at 1.001, 1.002, 1.004, 1.007 and 1.008 s.
    samples: [2, 3, 4, 4, 2],
    timeDeltas: [1_000, 1_000, 2_000, 3_000, 1_000],
  };

  test('each sample lasts until the next; the last, the mean interval', () => {
    assert.deepEqual(attribute(profile), [
      { category: 'ingest', ms: 2, percent: (100 * 2) / 8.75 },
      { category: 'database reads', ms: 4, percent: (100 * 4) / 8.75 },
      { category: 'idle', ms: 2.75, percent: (100 * 2.75) / 8.75 },
    ]);
  });

  test('samples outside the window are left out', () => {
    assert.deepEqual(attribute(profile, 1_002_500, 1_007_500), [{ category: 'database reads', ms: 4, percent: 100 }]);
  });
});
