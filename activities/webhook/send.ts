/**
 * One signed POST of a webhook body, over a connection pinned to addresses already checked
 * (src/net/ssrf.ts). Redirects are not followed: a 3xx is an answer like any other non-2xx.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { pinnedLookup, type ResolvedAddress } from '../../src/net/ssrf';

export const SIGNATURE_HEADER = 'X-Batchflow-Signature';
const USER_AGENT = 'batchflow-webhook/1';

/**
 * `t=<unix seconds>,v1=<hex hmac-sha256(secret, "<t>.<body>")>`: the receiver recomputes it. During
 * a rotation one `v1=` per active secret, newest first (Stripe's form): a receiver accepts the
 * request when any of them matches its secret. A receiver that keeps only the last `v1=` still
 * verifies with the secret being retired, so one not yet switched keeps working.
 */
export function signatureHeader(secrets: readonly string[], body: string, unixSeconds: number): string {
  const macs = secrets.map((secret) => `v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`);
  return [`t=${unixSeconds}`, ...macs].join(',');
}

export interface SignedPost {
  url: URL;
  addresses: ResolvedAddress[];
  body: string;
  /** The secrets to sign with, newest first (two during a rotation). */
  secrets: readonly string[];
  /** Sent as X-Batchflow-Delivery: the same on every attempt, so receivers can drop repeats. */
  deliveryId: string;
  timeoutMs: number;
}

/**
 * Sends the body and answers the receiver's status line; throws on a connection error or when no
 * status line arrives within the timeout. The response body is not read.
 */
export function postSigned(p: SignedPost): Promise<{ status: number; statusText: string }> {
  const body = Buffer.from(p.body, 'utf8');
  const request = p.url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(
      p.url,
      {
        method: 'POST',
        agent: false,
        lookup: pinnedLookup(p.addresses),
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'user-agent': USER_AGENT,
          'x-batchflow-event': 'batch.finished',
          'x-batchflow-delivery': p.deliveryId,
          [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(p.secrets, p.body, Math.floor(Date.now() / 1000)),
        },
      },
      (res) => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '' });
        res.destroy();
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${p.timeoutMs} ms`)), p.timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}
