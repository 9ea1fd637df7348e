/**
 * A completion-webhook receiver on loopback: records every request and answers what the test
 * scripts, and verifies signatures the way the README tells receivers to.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hooks/batchflow` */
  url: string;
  port: number;
  received: ReceivedHook[];
  /** What to answer the n-th request (0-based); may wait before answering. Default: 200. */
  answer: (n: number, hook: ReceivedHook) => number | Promise<number>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(answer: WebhookReceiver['answer'] = () => 200): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    port: 0,
    received: [],
    answer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const hook: ReceivedHook = { path: req.url ?? '', headers: req.headers, body, at: Date.now() };
      const n = receiver.received.push(hook) - 1;
      void Promise.resolve(receiver.answer(n, hook)).then((status) =>
        res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hooks/batchflow`;
  return receiver;
}

/** The `v1=` signatures of an `X-Batchflow-Signature` header, in order (two during a rotation). */
export function signaturesOf(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .filter((kv) => kv.startsWith('v1='))
    .map((kv) => kv.slice(3));
}

/**
 * Checks `X-Batchflow-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` against the raw body, the way the
 * docs tell receivers to: some `v1` is the HMAC-SHA256 of "<t>.<body>" under the secret, and the
 * timestamp is no older than `toleranceS` (replays).
 */
export function verifySignature(secret: string, header: string | undefined, body: string, toleranceS = 300): boolean {
  const t = Number(/(?:^|,)t=(\d+)(?:,|$)/.exec(header ?? '')?.[1]);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return signaturesOf(header).some((hex) => {
    const given = Buffer.from(hex, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
