/**
 * `GET /batch/jobs/{id}/stream`: the document design's live view. Server-Sent Events, one
 * BatchJob each time the job's progress changes, closed after the job reaches completed, failed
 * or cancelled. It rides the shared live hub (one poller per batch, however many watch it).
 *
 * Events are unnamed (`message`), so an EventSource's `onmessage` sees every one; ids are the
 * hub's, so a reconnect with `Last-Event-ID` continues without repeats.
 */
import type Router from '@koa/router';
import { createSession, type Session } from 'better-sse';
import type { BatchService } from '../../../batches/service';
import type { BatchBody } from '../../../batches/view';
import type { LiveEvent, LiveHub } from '../../live/hub';
import { isTerminalId } from '../../live/position';
import { notFound } from '../../errors';
import { batchJobOf } from './batch-jobs';
import { FINAL_BATCH_JOB_STATUSES } from './shapes';

/** A comment this often keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 15_000;
/** What an EventSource waits before reconnecting after a dropped connection. */
const RETRY_MS = 2_000;

export function batchJobStreamRoute(router: Router, service: BatchService, live: LiveHub): void {
  router.get('/batch/jobs/:id/stream', async (ctx) => {
    const tenantId = ctx.state.tenantId as string;
    const id = ctx.params.id!;
    const lastEventId = ctx.get('last-event-id') || undefined;
    if (isTerminalId(lastEventId)) {
      // The client saw the end already (EventSource reconnects after every close): 204 tells it to stop.
      if (!(await service.get(tenantId, id))) throw notFound('job');
      ctx.status = 204;
      return;
    }

    let resolveSession!: (s: Session | undefined) => void;
    const opened = new Promise<Session | undefined>((r) => (resolveSession = r));
    let chain: Promise<void> = Promise.resolve();
    let last: string | undefined;
    let ended = false;
    // Filled once the hub has accepted the watch; end() may run before that, on a failed start.
    const watching: { stop?: () => void } = {};
    const end = (): void => {
      if (ended) return;
      ended = true;
      watching.stop?.();
      ctx.res.end();
    };

    // Events are turned into BatchJobs one after another (each may read failed items), in order.
    const onEvent = (e: LiveEvent): void => {
      if (e.type === 'item_failed') return; // each progress event that follows carries it in `errors`
      chain = chain.then(async () => {
        const session = await opened;
        if (!session || ended) return;
        const job = await batchJobOf(service, tenantId, e.data as unknown as BatchBody);
        const final = FINAL_BATCH_JOB_STATUSES.includes(job.status);
        // updated_at moves on every report; only a change in anything else is progress.
        const key = JSON.stringify({ ...job, updated_at: undefined });
        if (final || key !== last) session.push(job, 'message', e.id);
        last = key;
        if (final) end();
      }).catch(() => end());
    };

    watching.stop = await live.watch(tenantId, id, lastEventId, onEvent, () => {
      chain = chain.then(end);
    });
    if (!watching.stop) throw notFound('job');

    // From here the response is the event stream, written by better-sse rather than Koa.
    ctx.status = 200;
    ctx.respond = false;
    ctx.res.once('close', end);
    try {
      // X-Request-Id, set on the response earlier, goes out with better-sse's head. nginx and
      // friends buffer responses unless told not to.
      const session = await createSession(ctx.req, ctx.res, { keepAlive: KEEP_ALIVE_MS, retry: RETRY_MS, headers: { 'X-Accel-Buffering': 'no' } });
      resolveSession(session);
    } catch (err) {
      resolveSession(undefined);
      end();
      throw err;
    }
  });
}
