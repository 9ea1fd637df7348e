/**
 * Fault (issue 13, hole 3): a person's review decision arrives while the run is handing over to a
 * new one (continue-as-new). The run refuses the `reviewed` update then; the decision is recorded
 * all the same, and the next run must pick it up, or the item stays `running` with nothing
 * scheduled.
 *
 * On conditions: the batch's workflow is started with a small history limit so that it continues
 * as new after a few chunks; the test holds a row lock on the batch, so the run's last step before
 * the hand-over (saving its snapshot) waits; the decision is posted then, and the lock is let go
 * once the API has logged that the run refused it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { emptyCounts, STAGES, workflowIdFor, type BatchOptions, type BatchWorkflowInput } from '../../src/contracts/workflow';
import { insertBatch } from '../../src/db/batches';
import { hashKey } from '../../src/db/keys';
import { newBatchId } from '../../src/batches/ids';
import { ItemCountKey, TenantIdKey } from '../../src/temporal/search-attributes';
import { SHIPPED } from '../helpers/stack';
import { connectTemporal, temporalAddress } from '../helpers/temporal';
import { startPublishTarget } from '../helpers/publish-target';
import { apiFetch, catalogItems, DEV_KEY, freePort, openCase, sharedPostgresUrl, waitFor, waitForEnd } from '../helpers/faults';

const DEADLINE_MS = 300_000;
const TOTAL = 16;

test(
  'a review decision made while the run continues as new: the next run picks it up and the item finishes its stages',
  { timeout: 900_000 },
  async (t) => {
    const temporal = await temporalAddress();
    const fault = await openCase({ databaseUrl: await sharedPostgresUrl(), temporal, target: await startPublishTarget() });
    const { client, close } = await connectTemporal(temporal);
    const holder = new pg.Client({ connectionString: fault.db.url });
    await holder.connect();
    try {
      const api = await fault.startApi('api', await freePort());
      const baseUrl = `http://127.0.0.1:${api.port}`;
      await fault.startWorker('worker-0');
      // The dev key's tenant, as the API stored it.
      const { tenant_id: tenantId } = await fault.db.db
        .selectFrom('api_keys')
        .select('tenant_id')
        .where('key_hash', '=', hashKey(DEV_KEY))
        .executeTakeFirstOrThrow();

      // Item 0 is one the core model is unsure of: it waits for a person.
      const items = [{ ref: 'rv', text: 'xk part one' }, ...catalogItems(TOTAL - 1)];
      const batchId = newBatchId();
      const options: BatchOptions = {
        stages: [...STAGES],
        chunkSize: 2,
        maxParallelChunks: 1,
        priority: 'normal',
        onCancel: 'keep',
        maxFailureRatio: 1,
      };
      await insertBatch(
        fault.db.db,
        {
          id: batchId,
          tenant_id: tenantId,
          status: 'queued',
          priority: 'normal',
          options: JSON.stringify(options),
          metadata: '{}',
          callback_url: null,
          total_items: TOTAL,
          counts: JSON.stringify(emptyCounts(TOTAL)),
          error: null,
          idempotency_key: null,
          request_hash: null,
          workflow_id: workflowIdFor(batchId),
        },
        items.map((i) => ({ ref: i.ref, text: i.text, content: null, contentType: null, attributes: null })),
      );
      const input: BatchWorkflowInput = { batchId, tenantId, totalItems: TOTAL, options, retry: SHIPPED.retry, historyLimit: 40 };
      const handle = await client.workflow.start('batchWorkflow', {
        taskQueue: fault.taskQueue,
        workflowId: workflowIdFor(batchId),
        args: [input],
        typedSearchAttributes: [
          { key: TenantIdKey, value: tenantId },
          { key: ItemCountKey, value: TOTAL },
        ],
      });

      // Once the run has marked the batch started, lock its row against updates (not against the
      // key-share locks of rows that reference it): the hand-over's snapshot will wait.
      await waitFor(
        'the batch running',
        async () =>
          (await fault.db.db.selectFrom('batches').select('status').where('id', '=', batchId).executeTakeFirstOrThrow()).status ===
            'running' || undefined,
        DEADLINE_MS,
        fault,
      );
      await holder.query('begin');
      await holder.query('select id from batches where id = $1 for no key update', [batchId]);
      await waitFor(
        'the hand-over waiting on the lock',
        async () => {
          const { rows } = await holder.query<{ n: string }>(
            `select count(*) as n from pg_locks l join pg_stat_activity a using (pid) where not l.granted and a.query ilike 'update "batches"%'`,
          );
          return Number(rows[0]!.n) > 0 || undefined;
        },
        DEADLINE_MS,
        fault,
      );
      const inReview = await fault.db.db
        .selectFrom('item_results')
        .select('status')
        .where('batch_id', '=', batchId)
        .where('ref', '=', 'rv')
        .executeTakeFirst();
      assert.equal(inReview?.status, 'needs_review', 'rv waits for a person');

      // The decision, while the run hands over: its update is refused (the API says so in its log),
      // and only then is the hand-over let go. The answer still says pending.
      const started = Date.now();
      const answer = apiFetch(baseUrl, `/v1/review/${batchId}/rv`, {
        method: 'POST',
        body: JSON.stringify({ label: '8471' }),
        signal: AbortSignal.timeout(120_000),
      });
      await waitFor(
        'the run refusing the nudge',
        async () => api.output().includes('the run refused the nudge') || undefined,
        DEADLINE_MS,
        fault,
      );
      await holder.query('rollback');
      const res = await answer;
      const body = (await res.json()) as { status: string };
      t.diagnostic(`review answered ${res.status} ${JSON.stringify(body)} after ${Date.now() - started} ms`);
      assert.equal(res.status, 202, JSON.stringify(body));
      assert.equal(body.status, 'pending');

      const ended = (await waitForEnd(() => baseUrl, batchId, DEADLINE_MS, fault)) as unknown as {
        status: string;
        counts: Record<string, number>;
      };
      const rv = await fault.db.db
        .selectFrom('item_results')
        .select(['status', 'stage', 'classification', 'published_id'])
        .where('batch_id', '=', batchId)
        .where('ref', '=', 'rv')
        .executeTakeFirstOrThrow();
      const desc = await handle.describe();
      t.diagnostic(
        `ended ${ended.status}; counts ${JSON.stringify(ended.counts)}; rv ${rv.status} at ${rv.stage}; runs: continued as new ${desc.runId !== handle.firstExecutionRunId}`,
      );
      assert.notEqual(desc.runId, handle.firstExecutionRunId, 'the batch continued as new');
      assert.equal(rv.status, 'succeeded');
      assert.equal(rv.stage, 'publish');
      assert.ok(rv.published_id);
      assert.equal((rv.classification as { label: string; tier: string }).label, '8471');
      assert.equal((rv.classification as { tier: string }).tier, 'human_review');
      assert.equal(ended.status, 'completed');
      assert.equal(ended.counts.needs_review, 0);
      assert.equal(ended.counts.pending, 0);
      assert.equal(ended.counts.published, TOTAL);
    } finally {
      await holder.end().catch(() => {});
      await close();
      await fault.close();
    }
  },
);
