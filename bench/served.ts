/**
 * How fast the API itself served the progress reads: from its own latency histogram
 * (batchflow_http_request_duration_seconds, whose 25 ms bucket is issue 15's goal), before and after
 * a scenario. The reader's own timing adds its process's wait for a core on a saturated machine;
 * this figure does not.
 */
const ROUTE = 'route="/v1/batches/:id"';
const WITHIN = 'le="0.025"';

export interface Served {
  /** Reads answered 200 by the API. */
  n: number;
  /** Of those, within 25 ms. */
  within25: number;
  /** The API's event-loop delay p99 and max (ms) since the previous scrape (prom-client resets it each scrape). */
  loopP99Ms?: number;
  loopMaxMs?: number;
}

/** The API's cumulative count of 200 reads of one batch, and those within 25 ms. */
export async function servedReads(baseUrl: string): Promise<Served> {
  const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let n = 0;
  let within25 = 0;
  const gauge = (name: string): number | undefined => {
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) * 1000 : undefined;
  };
  for (const line of text.split('\n')) {
    if (!line.includes(ROUTE) || !line.includes('method="GET"') || !line.includes('status="200"')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('batchflow_http_request_duration_seconds_count')) n += value;
    else if (line.startsWith('batchflow_http_request_duration_seconds_bucket') && line.includes(WITHIN)) within25 += value;
  }
  return { n, within25, loopP99Ms: gauge('nodejs_eventloop_lag_p99_seconds'), loopMaxMs: gauge('nodejs_eventloop_lag_max_seconds') };
}

export const servedSince = (before: Served, after: Served): Served => ({
  ...after,
  n: after.n - before.n,
  within25: after.within25 - before.within25,
});
