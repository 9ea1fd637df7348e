/**
 * GET /v1/batches/{id}/ws: the live events over a WebSocket, one JSON message each,
 * `{"type", "id", ...data}`; closed with 1000 after the terminal event. Upgrades bypass Koa, so
 * this checks the key itself (the app's cached key lookup, as the auth middleware does), draws on its reads bucket
 * and its live slots as an SSE request does, and answers refusals in the contract's error shape
 * before any upgrade. A client that stops reading is dropped once MAX_LIVE_BUFFER_BYTES wait for it.
 *
 * The key: `X-Api-Key` or `Authorization: Bearer` like every route, or, because browsers cannot set
 * headers on a WebSocket, the query parameter `api_key`. Resume with `?last_event_id=`.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { KeyLookup } from '../../auth/key-cache';
import { isDatabaseUnavailable } from '../../db/connect';
import { CONTRACT_LIMITS, resolveLimits, type KeyLimits } from '../../auth/limits';
import { BatchflowError } from '../../errors';
import type { AuthedKey } from '../middleware/auth';
import type { RateLimits } from '../middleware/rate-limit';
import { isTerminalEventType, type LiveEvent, type LiveHub } from './hub';
import { MAX_LIVE_BUFFER_BYTES, MAX_LIVE_MS, paced, tooManyLive, type LiveSlots } from './slots';

const PATH = /^\/v1\/batches\/([^/]+)\/ws$/;
/** A peer that has not answered a ping within this long is gone (a dropped laptop, a dead NAT). */
const PING_MS = 30_000;
/** Clients only listen; anything they send is ignored, and large frames are refused. */
const MAX_PAYLOAD = 4_096;

export interface LiveDeps {
  live: LiveHub;
  /** The app's key lookup (cached, src/auth/key-cache.ts), shared with the HTTP routes. */
  findKey: KeyLookup;
  log: Logger;
  rates: RateLimits;
  slots: LiveSlots;
  /** Every key's default limits (config); a key's own overrides win. */
  limits?: KeyLimits;
}

const registry = new WeakMap<Koa, LiveDeps>();

/** Called by createApp: what attachWebSockets needs from the app it serves. */
export const registerLive = (app: Koa, deps: LiveDeps): void => void registry.set(app, deps);

export interface LiveSockets {
  /**
   * Ends every live stream (SSE and WebSocket, 1001) and the hub's pollers, and gives back what is
   * left of this process's rate leases (the app's one teardown). Call before server.close().
   */
  close(): Promise<void>;
}

/** Serves WebSocket upgrades for `app` on `server`; other upgrade requests are answered 404. */
export function attachWebSockets(server: Server, app: Koa): LiveSockets {
  const deps = registry.get(app);
  if (!deps) throw new Error('attachWebSockets: the app was not made by createApp');
  const { live, log, rates, slots, limits, findKey } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  const requestIds = new WeakMap<IncomingMessage, string>();
  wss.on('headers', (headers, req) => headers.push(`X-Request-Id: ${requestIds.get(req) ?? ''}`));

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const requestId = randomUUID();
    requestIds.set(req, requestId);
    socket.on('error', (err) => log.debug({ err, requestId }, 'websocket socket error'));
    upgrade(req, socket, head, requestId).catch((err: unknown) => {
      if (err instanceof BatchflowError) return refuse(socket, requestId, err.status, err.code, err.message, err.retryAfter);
      if (isDatabaseUnavailable(err))
        return refuse(socket, requestId, 503, 'unavailable', 'the database is unreachable; the request had no effect', 5);
      log.error({ err, requestId }, 'websocket upgrade failed');
      refuse(socket, requestId, 500, 'internal', 'internal error; the request id identifies it in the logs');
    });
  };

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, requestId: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const batchId = PATH.exec(url.pathname)?.[1];
    // Batch ids are plain tokens: anything needing decoding is no batch of ours.
    if (!batchId) return refuse(socket, requestId, 404, 'not_found', `no route for GET ${url.pathname}`);
    const header = req.headers['x-api-key'];
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const key = (typeof header === 'string' && header) || bearer || url.searchParams.get('api_key');
    const owner = key ? await findKey(key) : undefined;
    if (!owner)
      return refuse(socket, requestId, 401, 'unauthorized', 'a valid API key is required (X-Api-Key, Authorization: Bearer or ?api_key=)');
    const authed: AuthedKey = { id: owner.keyId, tenantId: owner.tenantId, limits: resolveLimits(limits ?? CONTRACT_LIMITS, owner.limits) };
    const taken = await rates.take(authed, 'reads', requestId);
    if (taken.retryAfter !== undefined)
      return refuse(
        socket,
        requestId,
        429,
        'rate_limited',
        `this key's reads limit (${taken.rate.points} per window) is used up; retry after ${taken.retryAfter} s`,
        taken.retryAfter,
      );
    const release = slots.take(authed.id);
    if (!release) throw tooManyLive(slots.max);

    let ws: WebSocket | undefined;
    const early: LiveEvent[] = [];
    const send = (e: LiveEvent): void => {
      if (!ws) return void early.push(e);
      if (ws.readyState !== ws.OPEN) return;
      // It stopped reading: drop it rather than hold its backlog (it may come back with its last event id).
      if (ws.bufferedAmount > MAX_LIVE_BUFFER_BYTES) return ws.terminate();
      ws.send(JSON.stringify({ type: e.type, id: e.id, ...e.data }));
      if (isTerminalEventType(e.type)) ws.close(1000, e.type);
    };
    let unsubscribe: (() => void) | undefined;
    try {
      const pace = (): Promise<boolean> =>
        paced(
          () => ws?.bufferedAmount ?? 0,
          () => ws !== undefined && ws.readyState !== ws.OPEN,
          () => ws?.terminate(),
        );
      unsubscribe = await live.watch(
        owner.tenantId,
        batchId,
        url.searchParams.get('last_event_id') ?? undefined,
        send,
        () => ws?.close(1001, 'server shutting down'),
        pace,
      );
    } finally {
      if (!unsubscribe) release();
    }
    if (!unsubscribe) return refuse(socket, requestId, 404, 'not_found', 'batch not found');
    const stop = unsubscribe;
    const done = (): void => {
      stop();
      release();
    };
    // Covers a client that leaves during the handshake, before the socket's own close handler exists.
    socket.once('close', done);

    wss.handleUpgrade(req, socket, head, (opened) => {
      ws = opened;
      let alive = true;
      opened.on('pong', () => (alive = true));
      const ping = setInterval(() => {
        if (!alive) return opened.terminate();
        alive = false;
        opened.ping();
      }, PING_MS);
      const lifetime = setTimeout(() => opened.close(1000, 'time limit: reconnect with last_event_id'), MAX_LIVE_MS);
      opened.on('close', () => {
        clearInterval(ping);
        clearTimeout(lifetime);
        done();
      });
      opened.on('error', (err) => log.warn({ err, requestId }, 'websocket error'));
      log.info({ requestId, tenant: owner.tenantId, path: url.pathname, status: 101 }, 'request');
      for (const e of early.splice(0)) send(e);
    });
  }

  server.on('upgrade', onUpgrade);
  return {
    async close() {
      server.off('upgrade', onUpgrade);
      live.close();
      for (const c of wss.clients) c.close(1001, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const c of wss.clients) c.terminate();
      await rates.close();
    },
  };
}

/** An HTTP answer in the contract's error shape on a socket that will not be upgraded. */
function refuse(socket: Duplex, requestId: string, status: number, code: string, message: string, retryAfter?: number): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({
    error: { code, message, ...(retryAfter !== undefined ? { retry_after: retryAfter } : {}), request_id: requestId },
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\n` +
      (retryAfter !== undefined ? `Retry-After: ${retryAfter}\r\n` : '') +
      `Connection: close\r\n\r\n${body}`,
  );
}

declare module 'koa' {
  interface DefaultContext {
    /** The app's live-progress hub (createApp sets it), for routes built on it. */
    live: LiveHub;
    /** Live connections per key, shared by SSE routes and WebSocket upgrades (createApp sets it). */
    liveSlots: LiveSlots;
  }
}
