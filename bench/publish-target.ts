/**
 * A loopback publish target (delay 0 for the zero-latency scenarios) that answers the contract's create (POST /items → 201 {id}) and
 * delete after a fixed delay: scenario (b)'s "50 ms per call". Idempotent per Idempotency-Key.
 * One target serves every scenario (the worker process is told its URL once): each sets `delayMs`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlowTarget {
  url: string;
  calls: number;
  /** The delay of every answer from now on. */
  delayMs: number;
  /** Distinct Idempotency-Keys created: each published ref once. */
  created(): number;
  /** Distinct Idempotency-Keys created for one batch (the publish adapter's keys are `batchId:ref`). */
  createdFor(batchId: string): number;
  close(): Promise<void>;
}

export async function startSlowTarget(delayMs: number): Promise<SlowTarget> {
  const ids = new Map<string, string>();
  const target: SlowTarget = {
    url: '',
    calls: 0,
    delayMs,
    created: () => ids.size,
    createdFor: (batchId) => [...ids.keys()].filter((k) => k.startsWith(`${batchId}:`)).length,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      target.calls++;
      setTimeout(() => {
        if (req.method === 'DELETE') {
          res.writeHead(204).end();
          return;
        }
        const key = String(req.headers['idempotency-key'] ?? `anon-${target.calls}`);
        let id = ids.get(key);
        if (!id) ids.set(key, (id = `t${ids.size + 1}`));
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
      }, target.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  target.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return target;
}
