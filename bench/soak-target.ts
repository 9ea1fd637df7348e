/**
 * The soak's loopback publish target: the contract's create (POST /items → 201 {id}, the same id
 * for a repeated Idempotency-Key) and delete (DELETE /items/{id} → 204, 404 when gone). It keeps
 * which items are live, so that the end of the soak can compare them with what the database says
 * was published: an item published twice or left behind by an undo shows up there.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SoakTarget {
  url: string;
  /** Idempotency keys (`<batch_id>:<ref>`) of the items that exist at the target now. */
  live(): Set<string>;
  /** POSTs whose key had been created before (a retried publish): allowed, answered with the same id. */
  repeats: number;
  close(): Promise<void>;
}

/** A few milliseconds per call, so publish is not free but the soak measures batchflow, not the target. */
export async function startSoakTarget(delayMs = 3): Promise<SoakTarget> {
  const idByKey = new Map<string, string>();
  const keyById = new Map<string, string>();
  const live = new Set<string>();
  let next = 0;
  const target: SoakTarget = { url: '', live: () => new Set(live), repeats: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        const deleted = /^\/items\/([^/]+)$/.exec(req.url ?? '');
        if (req.method === 'DELETE' && deleted) {
          const key = keyById.get(decodeURIComponent(deleted[1]!));
          if (!key || !live.has(key)) return void res.writeHead(404).end();
          live.delete(key);
          return void res.writeHead(204).end();
        }
        if (req.method !== 'POST' || req.url !== '/items') return void res.writeHead(404).end();
        const key = String(req.headers['idempotency-key'] ?? '');
        if (!key) return void res.writeHead(400).end();
        let id = idByKey.get(key);
        if (id && live.has(key)) target.repeats++;
        if (!id) {
          id = `t${++next}`;
          idByKey.set(key, id);
          keyById.set(id, key);
        }
        live.add(key);
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
      }, delayMs);
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
