/**
 * GET /v1/batches/{id}/events: live progress as Server-Sent Events (better-sse). The stream opens
 * only once the batch is known to be the caller's (else the contract's 404), and closes after the
 * terminal event. GET /v1/batches/{id}/ws is answered by the WebSocket upgrade (live/ws.ts); a
 * plain GET there is told to upgrade.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import { createSession, type Session } from 'better-sse';
import { getBatch } from '../../db/batches';
import type { Database } from '../../db/schema';
import { AppError, notFound } from '../errors';
import { isTerminalEventType, type LiveEvent, type LiveHub } from '../live/hub';
import { isTerminalId } from '../live/position';

/** Comments on an idle stream, so proxies and load balancers do not time it out. */
const KEEP_ALIVE_MS = 15_000;
/** What an EventSource waits before reconnecting after a dropped connection. */
const RETRY_MS = 2_000;

const tenant = (ctx: Context): string => ctx.state.tenantId as string;

export function liveRoutes(live: LiveHub, db: Kysely<Database>): Router {
  const router = new Router({ prefix: '/v1/batches' });

  router.get('/:id/events', async (ctx) => {
    const batchId = ctx.params.id!;
    const lastEventId = ctx.get('last-event-id') || undefined;
    if (isTerminalId(lastEventId)) {
      // The client saw the end already (EventSource reconnects after every close): 204 tells it to stop.
      if (!(await getBatch(db, tenant(ctx), batchId))) throw notFound();
      ctx.status = 204;
      return;
    }

    // Events may arrive before the session exists; they wait here.
    const stream: { session?: Session } = {};
    const early: LiveEvent[] = [];
    const send = (e: LiveEvent): void => {
      const session = stream.session;
      if (!session) return void early.push(e);
      if (!session.isConnected) return;
      session.push(e.data, e.type, e.id);
      if (isTerminalEventType(e.type)) ctx.res.end();
    };
    const unsubscribe = await live.watch(tenant(ctx), batchId, lastEventId, send, () => ctx.res.end());
    if (!unsubscribe) throw notFound();

    ctx.respond = false;
    ctx.status = 200;
    // Gone while we checked the batch: nothing to stream.
    if (ctx.req.socket.destroyed) return unsubscribe();
    ctx.res.once('close', unsubscribe);
    stream.session = await createSession(ctx.req, ctx.res, {
      keepAlive: KEEP_ALIVE_MS,
      retry: RETRY_MS,
      // nginx and friends buffer responses unless told not to.
      headers: { 'X-Accel-Buffering': 'no' },
    });
    for (const e of early.splice(0)) send(e);
  });

  router.get('/:id/ws', async (ctx) => {
    if (!(await getBatch(db, tenant(ctx), ctx.params.id!))) throw notFound();
    throw new AppError(426, 'upgrade_required', 'this route speaks WebSocket: send an Upgrade: websocket request');
  });

  return router;
}
