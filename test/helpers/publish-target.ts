/**
 * A real publish target on loopback that follows the contract's publish-target section, with
 * faults on demand. It records every create and delete, so tests can say exactly what exists.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TargetFaults {
  /** Added to every request. */
  latencyMs?: number;
  /** Refs answered 422 (a permanent rejection). */
  rejectRefs?: Set<string>;
  /** Share of creates answered 503 before doing anything. */
  errorRate?: number;
  /** Share of creates answered 429 with `Retry-After: retryAfterSeconds`. */
  throttleRate?: number;
  retryAfterSeconds?: number;
  /** Share of creates that hang this long before answering (a timeout for the caller). */
  hangRate?: number;
  hangMs?: number;
  /**
   * The first `times` creates of these refs hang `ms` before answering (and still create the item):
   * a caller that times out never learns the id of what it created.
   */
  hangFirst?: { refs: Set<string>; times: number; ms: number };
  /** Refs whose DELETE is answered with this status (e.g. 400: a compensation that can never succeed). */
  failDeletes?: { refs: Set<string>; status: number };
  /**
   * Called once an item is created, before its 201 goes out (the answer waits for it): a test can
   * kill the caller there, so the item exists and nobody learned its id.
   */
  beforeAnswer?: (created: { ref: string; key: string; id: string }) => Promise<void> | void;
}

export interface PublishTarget {
  url: string;
  faults: TargetFaults;
  /** Live items by id. */
  items: Map<string, { ref: string; key: string }>;
  /** `arrivedAt`: when the request arrived; `at`: when it was answered (later for a hang). */
  creates: Array<{ key: string; ref: string; arrivedAt: number; at: number; status: number }>;
  deletes: Array<{ id: string; at: number; status: number }>;
  /** Requests being served right now, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
  /** Live items per ref: a correct run has at most one each. */
  countByRef(): Map<string, number>;
  close(): Promise<void>;
}

export async function startPublishTarget(faults: TargetFaults = {}, random: () => number = Math.random): Promise<PublishTarget> {
  const byKey = new Map<string, string>();
  let nextId = 1;
  const target: PublishTarget = {
    url: '',
    faults,
    items: new Map(),
    creates: [],
    deletes: [],
    inFlight: 0,
    maxInFlight: 0,
    countByRef() {
      const counts = new Map<string, number>();
      for (const { ref } of target.items.values()) counts.set(ref, (counts.get(ref) ?? 0) + 1);
      return counts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  const server = http.createServer((req, res) => {
    const arrivedAt = Date.now();
    target.inFlight++;
    target.maxInFlight = Math.max(target.maxInFlight, target.inFlight);
    res.on('close', () => target.inFlight--);
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => void handle(req, res, raw, arrivedAt));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string, arrivedAt: number): Promise<void> {
    const f = target.faults;
    if (f.latencyMs) await sleep(f.latencyMs);
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const del = /^\/items\/([^/]+)$/.exec(req.url ?? '');
    if (req.method === 'DELETE' && del) {
      const id = decodeURIComponent(del[1]!);
      const ref = target.items.get(id)?.ref;
      if (ref !== undefined && f.failDeletes?.refs.has(ref)) {
        target.deletes.push({ id, at: Date.now(), status: f.failDeletes.status });
        return send(f.failDeletes.status, { error: `cannot delete ${id}` });
      }
      const existed = target.items.delete(id);
      target.deletes.push({ id, at: Date.now(), status: existed ? 204 : 404 });
      return send(existed ? 204 : 404);
    }
    if (req.method !== 'POST' || req.url !== '/items') return send(404, { error: 'no such route' });
    const key = String(req.headers['idempotency-key'] ?? '');
    let ref = '';
    try {
      ref = String((JSON.parse(raw) as { ref?: unknown }).ref ?? '');
    } catch {
      return send(400, { error: 'bad json' });
    }
    const record = (status: number): void => void target.creates.push({ key, ref, arrivedAt, at: Date.now(), status });
    if (!key) return (record(400), send(400, { error: 'Idempotency-Key required' }));
    if (f.rejectRefs?.has(ref)) return (record(422), send(422, { error: `ref ${ref} rejected` }));
    const seen = target.creates.filter((c) => c.ref === ref && c.status === 201).length;
    if (f.hangFirst?.refs.has(ref) && seen < f.hangFirst.times) await sleep(f.hangFirst.ms);
    const roll = random();
    const error = f.errorRate ?? 0;
    const throttle = f.throttleRate ?? 0;
    const hang = f.hangRate ?? 0;
    if (roll < error) return (record(503), send(503, { error: 'unavailable' }));
    if (roll < error + throttle)
      return (record(429), send(429, { error: 'slow down' }, { 'retry-after': String(f.retryAfterSeconds ?? 1) }));
    if (roll < error + throttle + hang) await sleep(f.hangMs ?? 3_000);
    const existing = byKey.get(key);
    if (existing) return (record(201), send(201, { id: existing }));
    const id = `t${nextId++}`;
    byKey.set(key, id);
    target.items.set(id, { ref, key });
    record(201);
    await f.beforeAnswer?.({ ref, key, id });
    if (!res.destroyed) send(201, { id });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return target;
}
