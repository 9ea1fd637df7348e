/**
 * Live connections (SSE and WebSocket together) per API key: the contract's 50 at once. Each holds
 * a socket, a watcher and buffers for as long as its batch runs, so one key-holder must not be
 * able to open them without end. Counted per API process (each process protects its own memory);
 * with N processes behind a balancer a key may hold up to 50 on each.
 */
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { BatchflowError } from '../../errors';
import type { AuthedKey } from '../middleware/auth';

export const MAX_LIVE_PER_KEY = 50;

/**
 * What a live stream may have queued for a client that does not read: past it the client is
 * dropped (it can reconnect with its last event id) rather than buffered without limit.
 */
export const MAX_LIVE_BUFFER_BYTES = 1024 * 1024;

/**
 * The longest one live connection lasts: then it is closed (SSE ends, a WebSocket closes 1000), and
 * the client continues from its last event id on a fresh connection, like after any reconnect.
 */
export const MAX_LIVE_MS = 60 * 60_000;

/** A catch-up sends its next page once the client's backlog is below this. */
const PACE_BYTES = 256 * 1024;
/** How long a catch-up waits for a client that takes nothing before dropping it. */
export const PACE_WAIT_MS = 15_000;

/**
 * Waits until `buffered()` is below PACE_BYTES: true then, false (and `drop()` called) if the
 * client took nothing for PACE_WAIT_MS or went away. Polls: a WebSocket has no drain event.
 */
export async function paced(buffered: () => number, gone: () => boolean, drop: () => void): Promise<boolean> {
  const until = Date.now() + PACE_WAIT_MS;
  while (buffered() > PACE_BYTES) {
    if (gone()) return false;
    if (Date.now() > until) {
      drop();
      return false;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return !gone();
}

export class LiveSlots {
  private readonly held = new Map<string, number>();

  constructor(readonly max = MAX_LIVE_PER_KEY) {}

  /** A slot for `keyId`, released by the function returned (once, however often it is called); undefined when all are taken. */
  take(keyId: string): (() => void) | undefined {
    const n = this.held.get(keyId) ?? 0;
    if (n >= this.max) return undefined;
    this.held.set(keyId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(keyId) ?? 1) - 1;
      if (left > 0) this.held.set(keyId, left);
      else this.held.delete(keyId);
    };
  }

  /** Live connections open now, for a key or in all. */
  count(keyId?: string): number {
    return keyId === undefined ? [...this.held.values()].reduce((a, b) => a + b, 0) : (this.held.get(keyId) ?? 0);
  }
}

/** The contract's answer past the bound: 429 with Retry-After, as for any rate. */
export const tooManyLive = (max: number): BatchflowError =>
  new BatchflowError(
    429,
    'rate_limited',
    `this key has ${max} live connections (SSE and WebSocket together) open; close one first`,
    undefined,
    5,
  );

/** A live slot for the request's key (the app's LiveSlots), or the contract's 429. */
export function takeLiveSlot(ctx: Context): () => void {
  const release = ctx.liveSlots.take((ctx.state.key as AuthedKey).id);
  if (!release) throw tooManyLive(ctx.liveSlots.max);
  return release;
}

/** True once an SSE client has left MAX_LIVE_BUFFER_BYTES unread: it is dropped, not buffered for. */
export const backlogged = (res: ServerResponse): boolean => res.writableLength > MAX_LIVE_BUFFER_BYTES;
