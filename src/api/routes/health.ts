import Router from '@koa/router';
import type { Client } from '@temporalio/client';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema';

const PROBE_DEADLINE_MS = 2_000;

/** /healthz: the process answers. /readyz: it can reach both Temporal and the database. */
export function healthRoutes(deps: { db: Kysely<Database>; client: Client }): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const [database, temporal] = await Promise.all([
      probe(() => sql`select 1`.execute(deps.db)),
      probe(() => deps.client.withDeadline(Date.now() + PROBE_DEADLINE_MS, () => deps.client.workflowService.getSystemInfo({}))),
    ]);
    const ready = database === 'ok' && temporal === 'ok';
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'unavailable', checks: { database, temporal } };
  });
  return router;
}

async function probe(check: () => Promise<unknown>): Promise<string> {
  try {
    await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), PROBE_DEADLINE_MS).unref())]);
    return 'ok';
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}
