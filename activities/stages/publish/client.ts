/**
 * The publish target's HTTP client: undici's `request` over one keep-alive Agent per process.
 * Publishing is one request per item, and the bench's worker profile put fetch (the WHATWG layer
 * over undici: Request, Headers, web streams) at 36% of the worker's CPU; `request` skips that
 * layer and reuses connections the same way. Every body is read in full or dumped, so a
 * connection always goes back to the pool.
 */
import { Agent, request } from 'undici';

/** Idle keep-alive connections close after this: under the usual 60 s+ of servers and proxies. */
const KEEP_ALIVE_MS = 10_000;
/** A target's answer body is an id; past this size it is not read (and the answer is treated as without an id). */
const MAX_BODY_BYTES = 1024 * 1024;

const agent = new Agent({ keepAliveTimeout: KEEP_ALIVE_MS, keepAliveMaxTimeout: KEEP_ALIVE_MS });

export interface Answer {
  status: number;
  text: string;
  retryAfter: string | null;
}

/**
 * One request, answered within `timeoutMs` (the whole exchange, as before with fetch). Throws when
 * no answer came; an error with code UND_ERR_INVALID_ARG means the request could not be built.
 */
export async function send(
  url: URL,
  opts: { method: 'POST' | 'DELETE'; headers?: Record<string, string>; body?: string; timeoutMs: number },
): Promise<Answer> {
  const res = await request(url, {
    method: opts.method,
    headers: opts.headers,
    body: opts.body,
    dispatcher: agent,
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const length = Number(res.headers['content-length'] ?? 0);
  const text = length > MAX_BODY_BYTES ? (await res.body.dump(), '') : await res.body.text().catch(() => '');
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, text, retryAfter: typeof retryAfter === 'string' ? retryAfter : null };
}
