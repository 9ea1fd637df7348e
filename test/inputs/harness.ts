/**
 * What the bad-input files share: a stack without a worker (a batch row and its started workflow
 * are what a submission makes; the workflows are terminated at the end), the app served by the
 * API's own server (src/api/server.ts, so Node's parser refusals are answered as in production),
 * one keep-alive fetch per case, and a raw socket for what fetch refuses to send.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import { createApp } from '../../src/api/app';
import { createServer } from '../../src/api/server';
import { terminateRunning } from '../helpers/api';
import { startStack, type Stack } from '../helpers/stack';
import { checkAnswer, checkNoHalfCreated, type Answer } from './check';

/**
 * Tuning opt-in (MAX_BODY_BYTES): the body limit is what the 413 cases are about; small, so that
 * 413 needs only a modest body; every valid case here stays far below it.
 */
export const MAX_BODY = 256 * 1024;
/** Tuning opt-in: the server's whole-request deadline, what the 408 cases are about: a body trickled slower than this is cut off. */
export const REQUEST_TIMEOUT_MS = 3_000;

/**
 * Tuning opt-in (the key's limits): the suite sends thousands of requests, and without a worker
 * every batch it creates stays active, so the contract's 3 active / 60 a minute would answer most
 * cases 429. What these answers are about is the input, never a limit: no case may reach one.
 */
const NO_LIMITS = { max_active_batches: 1_000_000, submissions: 10_000_000, reads: 10_000_000, exports: 10_000_000 };

export interface InputsApp {
  stack: Stack;
  baseUrl: string;
  port: number;
  /** Sends one request with the stack's key (unless `key: null`) and checks the answer's invariants. */
  send(
    method: string,
    path: string,
    init?: { body?: string | Uint8Array; headers?: Record<string, string>; key?: string | null },
    what?: string,
  ): Promise<Answer>;
  stop(): Promise<void>;
}

export async function startInputsApp(): Promise<InputsApp> {
  const stack = await startStack({ noWorker: true, limits: NO_LIMITS, maxBodyBytes: MAX_BODY });
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const app = createApp({ db: stack.db.db, client: stack.client, batches: stack.batches, log, maxBodyBytes: MAX_BODY });
  const server: Server = createServer(app, { requestTimeoutMs: REQUEST_TIMEOUT_MS, checkIntervalMs: 250 });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    stack,
    baseUrl,
    port,
    send: async (method, path, init = {}, what = `${method} ${path}`) => {
      const headers = new Headers(init.headers);
      const key = init.key === undefined ? stack.key : init.key;
      if (key !== null && !headers.has('x-api-key')) headers.set('x-api-key', key);
      const res = await fetch(`${baseUrl}${path}`, { method, headers, body: init.body });
      return checkAnswer(res, method, path, what);
    },
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await terminateRunning(stack);
      await stack.stop();
    },
  };
}

/** The half-created check, after a case or a property: no batch row without its workflow, and so on. */
export const assertNothingHalfCreated = (stack: Stack): Promise<{ batches: number; halfCreated: number }> => checkNoHalfCreated(stack);

export interface RawAnswer {
  /** The status line's code, or undefined when the server closed without answering. */
  status?: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `parts` to a fresh connection (waiting `gapMs` between parts: a slow body) and reads until
 * the server closes it. For what fetch will not send: CR/LF in headers, huge headers, lying lengths.
 */
export function rawRequest(port: number, parts: Array<string | Buffer>, gapMs = 0, timeoutMs = 30_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let writing = true;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of the answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {
      /* a reset after the answer is still an answer; what arrived is parsed on close */
    });
    socket.on('close', () => {
      writing = false;
      clearTimeout(timer);
      resolve(parseRaw(Buffer.concat(chunks)));
    });
    socket.on('connect', () => {
      void (async () => {
        for (const part of parts) {
          if (!writing) return;
          socket.write(part);
          if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        }
      })();
    });
  });
}

function parseRaw(data: Buffer): RawAnswer {
  const end = data.indexOf('\r\n\r\n');
  if (!data.subarray(0, 9).equals(Buffer.from('HTTP/1.1 ')) || end === -1) return { headers: {}, body: data.toString('utf8') };
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = unchunk(body);
  return { status: Number(statusLine!.split(' ')[1]), headers, body: body.toString('utf8') };
}

/** A chunked body's data, sizes in bytes. */
function unchunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; ;) {
    const nl = body.indexOf('\r\n', at);
    if (nl === -1) break;
    const size = parseInt(body.subarray(at, nl).toString('latin1'), 16);
    if (!size) break;
    out.push(body.subarray(nl + 2, nl + 2 + size));
    at = nl + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** A raw answer as a fetch Response, so checkAnswer holds it to the same invariants. */
export function asResponse(raw: RawAnswer): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw.headers)) headers.set(k, v);
  return new Response(raw.body, { status: raw.status, headers });
}
