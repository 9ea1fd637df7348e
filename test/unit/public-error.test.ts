import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactPaths } from '../../src/db/public-error';

test("an item's error never names the server's paths; URLs and plain words stay", () => {
  assert.equal(
    redactPaths("raw/t/1/ab: ENOENT: no such file or directory, open '/var/lib/batchflow/blobs/raw/t/1/ab'"),
    "raw/t/1/ab: ENOENT: no such file or directory, open '<path>'",
  );
  assert.equal(redactPaths('EACCES: permission denied, mkdir /srv/data/blobs'), 'EACCES: permission denied, mkdir <path>');
  assert.equal(redactPaths('at Object.<anonymous> (/work/main/activities/ingest.ts:12:5)'), 'at Object.<anonymous> (<path>:12:5)');
  assert.equal(redactPaths('cannot open C:\\data\\blobs\\x'), 'cannot open <path>');
  assert.equal(
    redactPaths('publish target answered 503: http://127.0.0.1:9/items/t1'),
    'publish target answered 503: http://127.0.0.1:9/items/t1',
  );
  assert.equal(redactPaths('fallback_rejected: product is discontinued'), 'fallback_rejected: product is discontinued');
  assert.equal(redactPaths('ratio 3/4 of items'), 'ratio 3/4 of items', 'a fraction is not a path');
});
