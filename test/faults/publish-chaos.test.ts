/**
 * Fault: a publish target that answers 30% of creates 503, some 429 with Retry-After, and hangs
 * some for 2 s, longer than the worker's PUBLISH_TIMEOUT_MS. A hung create still creates the item:
 * the worker never hears the answer, retries with the same Idempotency-Key and gets the same id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seeded } from '../helpers/api';
import { temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import { assertFinalState, catalogItems, freePort, openCase, sharedPostgresUrl, submitBatch, waitForEnd } from '../helpers/faults';

const ITEMS = 600;
// Tuning opt-in: hangs that outlive the publish timeout are what this case is about.
const PUBLISH_TIMEOUT_MS = 1_000;
const HANG_MS = 2_000;

test(
  'publish-target chaos (30% 5xx, 429 + Retry-After, 2 s hangs): every item final, each published once',
  { timeout: 1_200_000 },
  async (t) => {
    const target = await startPublishTarget(
      { errorRate: 0.3, throttleRate: 0.05, retryAfterSeconds: 1, hangRate: 0.05, hangMs: HANG_MS },
      seeded(7),
    );
    const fault = await openCase({
      databaseUrl: await sharedPostgresUrl(),
      temporal: await temporalAddress(),
      target,
      publishTimeoutMs: PUBLISH_TIMEOUT_MS,
    });
    try {
      const api = await fault.startApi('api', await freePort());
      const baseUrl = `http://127.0.0.1:${api.port}`;
      await fault.startWorker('worker');
      const { batchId } = await submitBatch(baseUrl, {
        items: catalogItems(ITEMS),
        stages: ['publish'],
        chunk_size: 10,
        max_parallel_chunks: 4,
      });

      const end = await waitForEnd(() => baseUrl, batchId, 600_000, fault);
      assert.equal(end.status, 'completed', JSON.stringify(end.counts));
      const { checked, duplicates } = await assertFinalState(t, {
        db: fault.db,
        baseUrl,
        batchId,
        total: ITEMS,
        target,
        expectStatus: 'completed',
      });

      const byStatus = (s: number): number => target.creates.filter((c) => c.status === s).length;
      // A 201 for a key that already had one: the retry of a create whose answer was lost.
      const seenKeys = new Set<string>();
      let lostAnswersFound = 0;
      for (const c of target.creates.filter((c) => c.status === 201)) {
        if (seenKeys.has(c.key)) lostAnswersFound++;
        seenKeys.add(c.key);
      }
      t.diagnostic(
        `creates: ${target.creates.length} (503: ${byStatus(503)}, 429: ${byStatus(429)}, 201: ${byStatus(201)}); lost answers found at the target: ${lostAnswersFound}; items checked: ${checked}; duplicates found: ${duplicates}`,
      );
      assert.ok(byStatus(503) > 0 && byStatus(429) > 0, 'the chaos happened');
      assert.ok(lostAnswersFound > 0, 'some creates hung past the timeout and were found again by their key');
    } finally {
      await fault.close();
    }
  },
);
