/**
 * The HTTP client of the per-item calls (publish, its undo, classify's fallback): undici's
 * `request` over one keep-alive Agent per process. Node's global fetch is the same undici under a
 * WHATWG layer (Request, Response, Headers, web streams, AbortSignal.timeout) that took 36% of the
 * worker's CPU in the bench's profile (bench/results.md); this skips that layer and keeps what the
 * callers relied on from fetch:
 * - one deadline over the whole call (waiting for a connection, connecting, headers and body),
 *   failing with the same TimeoutError fetch's AbortSignal.timeout gave;
 * - redirects followed (fetch's default, up to its 20);
 * - a response body always read to the end or discarded, so the connection goes back to the pool
 *   (undici keeps a connection whose body is left unread busy, and the pool then runs dry).
 * These targets are the operator's (PUBLISH_URL, the fallback's URL), not a tenant's: tenant
 * callbacks go through src/net/ssrf.ts and activities/webhook/send.ts, which this does not touch.
 */
import { Agent, request } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Connections kept per origin. The worker runs at most 32 activities at once, each publishing 8
 * items at a time (activities/stages/publish/index.ts): 256 covers every request it can have in
 * flight, so the bound never queues a request that fetch (unbounded) would have sent at once.
 */
export const CONNECTIONS_PER_ORIGIN = 256;

/** fetch's own limit. */
const MAX_REDIRECTIONS = 20;

let shared: Agent | undefined;

/** The process's Agent, made on first use (its idle sockets are unref'd: they never hold the process open). */
export function httpAgent(): Agent {
  shared ??= new Agent({ connections: CONNECTIONS_PER_ORIGIN, maxRedirections: MAX_REDIRECTIONS });
  return shared;
}

/** Closes the shared Agent's connections; the next call makes a new one. For tests and shutdown. */
export async function closeHttpAgent(): Promise<void> {
  const agent = shared;
  shared = undefined;
  await agent?.close();
}

export interface HttpCall {
  method: 'POST' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
  /** The whole call, from asking for a connection to the body's last byte. */
  timeoutMs: number;
  /** false: the body is discarded unread (a DELETE's answer), and `text` is ''. */
  readBody?: boolean;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as text; '' when it was not read or could not be (as fetch's `text().catch(() => '')`). */
  text: string;
}

/**
 * fetch sent an accept and a user agent (`node`) on every call: a target that requires them still
 * gets them, the agent now naming us. fetch also asked for gzip and inflated the answer; with no
 * accept-encoding sent, a target answers uncompressed, which is all this reads.
 */
const DEFAULT_HEADERS = { accept: '*/*', 'user-agent': 'batchflow/1' };

/**
 * One call. Throws when no answer arrived (connection error, timeout): the caller decides what
 * that means. A body that fails mid-read (the deadline, a reset) answers `text: ''`.
 */
export async function httpCall(url: URL, call: HttpCall): Promise<HttpAnswer> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // A plain timer, not AbortSignal.timeout: in Node 20 that builds a transferable signal, about
  // 25 µs a call here against 2 µs for this. The race rejects even while the request waits for a
  // pooled connection, where undici only honours the abort once it is sent.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      controller.abort(err);
      reject(err);
    }, call.timeoutMs);
  });
  try {
    const res = await Promise.race([
      request(url, {
        dispatcher: httpAgent(),
        method: call.method,
        headers: { ...DEFAULT_HEADERS, ...call.headers },
        body: call.body,
        signal: controller.signal,
      }),
      deadline,
    ]);
    let text = '';
    if (call.readBody === false) await res.body.dump().catch(() => undefined);
    else text = await res.body.text().catch(() => '');
    return { status: res.statusCode, headers: res.headers, text };
  } finally {
    // The race subscribed to both promises, so whichever loses never goes unhandled.
    clearTimeout(timer);
  }
}

/** A header's value as fetch's Headers.get gave it: repeated values joined by ", ", null when absent. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The call could not be built (a malformed URL, a header value HTTP cannot carry): the same call
 * would fail the same way, so it is no transient failure. fetch threw these from `new Request`.
 */
export function unbuildable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_URL';
}
