/**
 * What a /metrics answer holds: this process's registry, the batches-by-status gauge when the
 * process has the database (read at scrape time, so it is right however many processes run), and
 * the Temporal Core runtime's own metrics when they are exported on a loopback port (./temporal-core.ts).
 */
import { Gauge, Registry } from 'prom-client';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { BATCH_STATUSES } from '../contracts/workflow';
import { registry } from './registry';

export interface Scraper {
  contentType: string;
  text(): Promise<string>;
}

const CORE_DEADLINE_MS = 2_000;

export function createScraper(deps: { db?: Kysely<Database>; coreUrl?: string }): Scraper {
  const own = new Registry();
  const { db } = deps;
  if (db) {
    new Gauge({
      name: 'batchflow_batches',
      help: 'Batches by status, counted in the database at scrape time (every tenant).',
      labelNames: ['status'] as const,
      registers: [own],
      async collect() {
        const rows = await db
          .selectFrom('batches')
          .select(['status', (eb) => eb.fn.countAll<string | number>().as('n')])
          .groupBy('status')
          .execute();
        const found = new Map(rows.map((r) => [r.status as string, Number(r.n)]));
        // Every status is listed, 0 included, so a rate or an alert never sees a series vanish.
        for (const status of BATCH_STATUSES) this.set({ status }, found.get(status) ?? 0);
      },
    });
  }
  return {
    contentType: registry.contentType,
    async text() {
      const parts = [await registry.metrics(), await own.metrics()];
      if (deps.coreUrl) parts.push(await coreMetrics(deps.coreUrl));
      return parts
        .filter((p) => p.trim() !== '')
        .map((p) => (p.endsWith('\n') ? p : `${p}\n`))
        .join('');
    },
  };
}

/** Core's exporter, fetched over loopback; a failure is a comment, never a failed scrape. */
async function coreMetrics(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(CORE_DEADLINE_MS) });
    if (!res.ok) return `# temporal core metrics unavailable: HTTP ${res.status}\n`;
    return await res.text();
  } catch (err) {
    return `# temporal core metrics unavailable: ${(err as Error).message.replace(/\s+/g, ' ')}\n`;
  }
}
