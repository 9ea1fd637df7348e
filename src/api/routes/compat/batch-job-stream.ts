/**
 * `GET /batch/jobs/{job_id}/stream`: the document design's live view (shared/seeds/001, "SSE
 * Streaming"). Every event is named `progress` and carries a ProgressEvent: `start` once the job
 * runs, then one `progress` per document ingested and one `fail` per document that failed, in
 * document order, then `complete` (or `cancel`). Last comes an event named `complete` with
 * `{"status": "completed" | "failed" | "cancelled"}`, and the stream closes.
 *
 * It rides the shared live hub (one poller per batch, however many watch it): each snapshot the
 * hub sends is a cue to report the documents that have ended since. A document is reported only
 * once every lower one has ended (firstUnfinished), so "documents below n" describes exactly what
 * was sent: the event id is `d<n>`, and a reconnect with `Last-Event-ID` continues from there.
 */
import type Router from '@koa/router';
import { createSession, type Session } from 'better-sse';
import type { z } from 'zod';
import type { ProgressEvent } from '../../../contracts/compat';
import { isTerminal, type ItemStatus } from '../../../contracts/workflow';
import type { Batches } from '../../../batches';
import type { BatchBody } from '../../../batches/view';
import { batchUuid } from '../../../batches/ids';
import type { LiveEvent, LiveHub } from '../../live/hub';
import { BatchflowError } from '../../../errors';
import { backlogged, MAX_LIVE_MS, takeLiveSlot } from '../../live/slots';
import { BATCH_JOB_PREFIXES, jobBatchId } from './batch-jobs';
import { batchJobStatus } from './shapes';

/** A comment this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
/** What an EventSource waits before reconnecting after a dropped connection. */
const RETRY_MS = 2_000;
/** Documents read per query while catching up. */
const PAGE = 500;
/** The id of the last event: a client that comes back with it is told there is nothing more. */
const END_ID = 'end';
const ENDED: ItemStatus[] = ['succeeded', 'failed', 'needs_review', 'orphaned'];

type Progress = z.infer<typeof ProgressEvent>;

/** Where a stream stands: documents below `next` are reported; `started` once `start` went out. */
interface Cursor {
  next: number;
  started: boolean;
}

const parseCursor = (id: string | undefined): Cursor => {
  const m = id ? /^d(\d{1,10})$/.exec(id) : null;
  return m ? { next: Number(m[1]), started: true } : { next: 0, started: false };
};

export function batchJobStreamRoute(router: Router, batches: Batches, live: LiveHub): void {
  for (const prefix of BATCH_JOB_PREFIXES) {
    router.get(`${prefix}/:job_id/stream`, async (ctx) => {
      const tenantId = ctx.state.tenantId as string;
      const batchId = jobBatchId(ctx);
      const jobId = batchUuid(batchId);
      const lastEventId = ctx.get('last-event-id') || undefined;
      if (lastEventId === END_ID) {
        // The client saw the end already (EventSource reconnects after every close): 204 tells it to stop.
        if (!(await batches.get(tenantId, batchId))) throw new BatchflowError(404, 'not_found', 'Job not found');
        ctx.status = 204;
        return;
      }

      const cursor = parseCursor(lastEventId);
      const release = takeLiveSlot(ctx);
      let resolveSession!: (s: Session | undefined) => void;
      const opened = new Promise<Session | undefined>((r) => (resolveSession = r));
      let chain: Promise<void> = Promise.resolve();
      let ended = false;
      const watching: { stop?: () => void } = {};
      const lifetime: { timer?: NodeJS.Timeout } = {};
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearTimeout(lifetime.timer);
        watching.stop?.();
        release();
        ctx.res.end();
      };
      /** Pushes one event, or drops a client that stopped reading rather than hold its backlog. */
      const push = (session: Session, data: unknown, name: string, id: string): void => {
        if (backlogged(ctx.res)) {
          ctx.res.destroy();
          return end();
        }
        session.push(data, name, id);
      };

      const event = (type: Progress['event_type'], rest: Partial<Progress> = {}): Progress => ({
        job_id: jobId,
        event_type: type,
        document_index: null,
        filename: null,
        message: null,
        timestamp: new Date().toISOString(),
        ...rest,
      });

      /** The documents that ended below `upTo` since the cursor, one event each, in order. */
      const reportDocuments = async (session: Session, upTo: number): Promise<void> => {
        while (cursor.next < upTo && !ended) {
          const page = await batches.resultsBetween(batchId, cursor.next, upTo, PAGE, ENDED);
          for (const item of page) {
            const ok = item.status === 'succeeded';
            const e = ok
              ? event('progress', { document_index: item.seq, filename: item.ref, message: 'Processed' })
              : event('fail', {
                  document_index: item.seq,
                  filename: item.ref,
                  message: item.error?.message ?? (item.status === 'needs_review' ? 'Needs review' : 'Failed'),
                });
            push(session, e, 'progress', `d${item.seq + 1}`);
          }
          // Cancelled and undone documents were never processed: passed over, as the design's worker never reached them.
          cursor.next = page.length < PAGE ? upTo : page[page.length - 1]!.seq + 1;
        }
      };

      const onSnapshot = async (body: BatchBody): Promise<void> => {
        const session = await opened;
        if (!session || ended) return;
        if (body.status === 'queued') return;
        if (!cursor.started) {
          push(session, event('start', { message: 'Job started' }), 'progress', `d${cursor.next}`);
          cursor.started = true;
        }
        const done = isTerminal(body.status);
        await reportDocuments(
          session,
          done ? body.total_items : ((await batches.firstUnfinished(batchId, cursor.next)) ?? body.total_items),
        );
        if (!done || ended) return;
        const status = batchJobStatus(body.status);
        push(
          session,
          status === 'cancelled' ? event('cancel', { message: 'Job cancelled by user' }) : event('complete', { message: status }),
          'progress',
          `d${cursor.next}`,
        );
        push(session, { status }, 'complete', END_ID);
        end();
      };

      const onEvent = (e: LiveEvent): void => {
        if (e.type === 'item_failed') return; // reported as `fail`, in document order, from the snapshots
        chain = chain.then(() => onSnapshot(e.data as unknown as BatchBody)).catch(() => end());
      };

      try {
        watching.stop = await live.watch(tenantId, batchId, undefined, onEvent, () => {
          chain = chain.then(end);
        });
      } finally {
        if (!watching.stop) release();
      }
      if (!watching.stop) throw new BatchflowError(404, 'not_found', 'Job not found');
      // Started only once there is a stream to end: a 404 must leave no timer behind.
      lifetime.timer = setTimeout(() => end(), MAX_LIVE_MS);

      // From here the response is the event stream, written by better-sse rather than Koa.
      ctx.status = 200;
      ctx.respond = false;
      ctx.res.once('close', end);
      try {
        // X-Request-Id, set on the response earlier, goes out with better-sse's head. nginx and
        // friends buffer responses unless told not to.
        const session = await createSession(ctx.req, ctx.res, {
          keepAlive: KEEP_ALIVE_MS,
          retry: RETRY_MS,
          headers: { 'X-Accel-Buffering': 'no' },
        });
        resolveSession(session);
      } catch (err) {
        resolveSession(undefined);
        end();
        throw err;
      }
    });
  }
}
