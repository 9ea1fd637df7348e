/**
 * The Temporal Core runtime's own metrics (poll latencies, task slots, sticky cache, …). Core can
 * only export them on a Prometheus port of its own, once per process, at Runtime.install; we bind
 * it to loopback and append it to our /metrics, so one scrape target per process shows both.
 */
import http from 'node:http';
import type { TelemetryOptions } from '@temporalio/worker';
import type { Config } from '../config';
import type { Scraper } from './scrape';
import { freePort } from '../net/free-port';

export interface CoreMetrics {
  /** For Runtime.install({ telemetryOptions }). */
  telemetryOptions: TelemetryOptions;
  /** Where the exporter answers, for createScraper / createApp's coreMetricsUrl. */
  url: string;
}

/** Core's exporter settings per config; undefined when TEMPORAL_CORE_METRICS=off. */
export async function coreMetrics(config: Pick<Config, 'metrics'>): Promise<CoreMetrics | undefined> {
  const m = config.metrics;
  if (m && !m.core) return undefined;
  const port = m?.corePort || (await freePort());
  return {
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}` } } },
    url: `http://127.0.0.1:${port}/metrics`,
  };
}

/**
 * A worker process's own /metrics (WORKER_METRICS_PORT): it has no HTTP API to hang it on.
 * Anything but GET /metrics is a 404.
 */
export async function serveMetrics(scraper: Scraper, port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    scraper.text().then(
      (body) => res.writeHead(200, { 'content-type': scraper.contentType, 'cache-control': 'no-store' }).end(body),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`scrape failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve())).catch(
    (err: NodeJS.ErrnoException) => {
      // The usual cause: a second worker process on the same host with the default port.
      if (err.code === 'EADDRINUSE')
        throw new Error(
          `WORKER_METRICS_PORT ${port} is in use (another worker on this host?): give each worker its own port, or 0 for none`,
        );
      throw err;
    },
  );
  return server;
}
