/**
 * GET /v1/batches/{id}/events: live progress as Server-Sent Events (better-sse). The stream opens
 * only once the batch is known to be the caller's (else the contract's 404), and closes after the
 * terminal event. GET /v1/batches/{id}/ws is answered by the WebSocket upgrade (live/ws.ts); a
 * plain GET there is told to upgrade.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { createSession, type Session } from 'better-sse';
import type { Batches } from '../../batches';
import { BatchflowError, notFound } from '../../errors';
import { isTerminalEventType, type LiveEvent, type LiveHub } from '../live/hub';
import { isTerminalId } from '../live/position';
import { backlogged, MAX_LIVE_MS, paced, takeLiveSlot } from '../live/slots';

/** Comments on an idle stream, so proxies and load balancers do not time it out. */
const KEEP_ALIVE_MS = 15_000;
/** What an EventSource waits before reconnecting after a dropped connection. */
const RETRY_MS = 2_000;

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

export function liveRoutes(live: LiveHub, batches: Pick<Batches, 'exists'>): Router {
  const router = new Router({ prefix: '/v1/batches' });

  router.get('/:id/events', async (ctx) => {
    const batchId = ctx.params.id!;
    const lastEventId = ctx.get('last-event-id') || undefined;
    if (isTerminalId(lastEventId)) {
      // The client saw the end already (EventSource reconnects after every close): 204 tells it to stop.
      if (!(await batches.exists(tenant(ctx), batchId))) throw notFound();
      ctx.status = 204;
      return;
    }

    // The batch first (the contract's 404), then the stream, then the watch: events go straight to
    // the client, never into a buffer of ours while the stream is being set up.
    if (!(await batches.exists(tenant(ctx), batchId))) throw notFound();
    const release = takeLiveSlot(ctx);
    let session: Session;
    try {
      ctx.respond = false;
      ctx.status = 200;
      session = await createSession(ctx.req, ctx.res, {
        keepAlive: KEEP_ALIVE_MS,
        retry: RETRY_MS,
        // nginx and friends buffer responses unless told not to.
        headers: { 'X-Accel-Buffering': 'no' },
      });
    } catch (err) {
      release();
      throw err;
    }
    const send = (e: LiveEvent): void => {
      if (!session.isConnected) return;
      // It stopped reading: drop it rather than hold its backlog (it may come back with Last-Event-ID).
      if (backlogged(ctx.res)) return void ctx.res.destroy();
      session.push(e.data, e.type, e.id);
      if (isTerminalEventType(e.type)) ctx.res.end();
    };
    const pace = (): Promise<boolean> =>
      paced(
        () => ctx.res.writableLength,
        () => ctx.res.destroyed,
        () => ctx.res.destroy(),
      );
    const unsubscribe = await live.watch(tenant(ctx), batchId, lastEventId, send, () => ctx.res.end(), pace).catch(() => undefined);
    const lifetime = setTimeout(() => ctx.res.end(), MAX_LIVE_MS);
    const done = (): void => {
      clearTimeout(lifetime);
      unsubscribe?.();
      release();
    };
    // Gone meanwhile (the client, or the batch: retention deleted it): nothing to stream.
    if (!unsubscribe || ctx.req.socket.destroyed) {
      done();
      ctx.res.end();
      return;
    }
    ctx.res.once('close', done);
  });

  router.get('/:id/ws', async (ctx) => {
    if (!(await batches.exists(tenant(ctx), ctx.params.id!))) throw notFound();
    throw new BatchflowError(426, 'upgrade_required', 'this route speaks WebSocket: send an Upgrade: websocket request');
  });

  return router;
}
