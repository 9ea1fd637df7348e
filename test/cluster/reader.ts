/**
 * A client reading a batch's progress, as a dashboard does: GET /v1/batches/:id every second,
 * spread over the APIs in turn, each read recorded (which API, when, how it answered, how long).
 */
import { apiFetch } from '../helpers/faults';

// 60 reads a minute: a tenth of the tenant's default read limit, which every other read shares.
const EVERY_MS = 1_000;

export interface Read {
  api: string;
  at: number;
  /** The HTTP status, or 0 when the request failed (refused, timed out). */
  status: number;
  ms: number;
}

export interface Reader {
  reads: Read[];
  stop(): void;
}

export function startReader(apis: string[], batchId: string): Reader {
  const reads: Read[] = [];
  let stopped = false;
  void (async () => {
    for (let i = 0; !stopped; i++) {
      const api = apis[i % apis.length]!;
      const at = Date.now();
      const status = await apiFetch(api, `/v1/batches/${batchId}`, { signal: AbortSignal.timeout(10_000) }).then(
        async (res) => (await res.arrayBuffer(), res.status),
        () => 0,
      );
      reads.push({ api, at, status, ms: Date.now() - at });
      await new Promise((r) => setTimeout(r, EVERY_MS));
    }
  })();
  return { reads, stop: () => void (stopped = true) };
}
