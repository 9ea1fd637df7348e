/**
 * The API's HTTP server around the Koa app. Some requests never reach Koa: Node's HTTP parser
 * refuses broken request lines, CR/LF inside header values and oversized headers, and the server
 * itself ends a request whose body does not arrive in time. Those are answered here, in the
 * contract's error shape, instead of Node's bare-text defaults.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';

/**
 * Chosen, not inherited: headers must arrive within 20 s (a slow-headers client holds a socket for
 * nothing), the whole request (a 64 MiB body included) within 120 s; an idle keep-alive socket is
 * closed after 5 s. Responses (downloads, live streams) have their own bounds.
 */
export const HEADERS_TIMEOUT_MS = 20_000;
export const REQUEST_TIMEOUT_MS = 120_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface ServerOptions {
  /** The whole request, headers and body, must arrive within this; else 408. Default REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** How often expired requests are looked for; default Node's 30 s, tests use less. */
  checkIntervalMs?: number;
}

interface Refusal {
  status: number;
  reason: string;
  code: string;
  message: string;
}

function refusalOf(err: Error & { code?: string }, timeoutMs: number): Refusal | undefined {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        reason: 'Request Header Fields Too Large',
        code: 'payload_too_large',
        message: 'the request headers are larger than the server accepts',
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'Request Timeout',
        code: 'validation_failed',
        message: `the request did not arrive within ${Math.round(timeoutMs / 1000)} s`,
      };
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    default:
      // HPE_INVALID_HEADER_TOKEN, HPE_LF_EXPECTED, HPE_INVALID_METHOD, ...: not valid HTTP.
      return err.code?.startsWith('HPE_')
        ? { status: 400, reason: 'Bad Request', code: 'validation_failed', message: `the request is not valid HTTP (${err.code})` }
        : undefined;
  }
}

/** An http.Server serving `app`, answering what Node refuses before Koa sees it. */
export function createServer(app: Koa, opts: ServerOptions = {}): http.Server {
  const requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const server = http.createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      ...(opts.checkIntervalMs !== undefined ? { connectionsCheckingInterval: opts.checkIntervalMs } : {}),
    },
    app.callback(),
  );
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    const refusal = refusalOf(err, server.requestTimeout);
    // A response already under way cannot be replaced: only close the connection then.
    const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (!refusal || started || !socket.writable) {
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message, request_id: requestId } });
    socket.end(
      `HTTP/1.1 ${refusal.status} ${refusal.reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}
