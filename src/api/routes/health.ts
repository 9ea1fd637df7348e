import Router from '@koa/router';
import type { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { checkSearchAttributes, registerCommand, withTimeout } from '../../temporal/search-attribute-setup';

const PROBE_DEADLINE_MS = 2_000;
/** Once every attribute is there, it stays: ask Temporal again only after this long. */
const ATTRIBUTES_OK_FOR_MS = 60_000;

/**
 * /healthz: the process answers. /readyz: it can reach both Temporal and the database, and the
 * Temporal namespace has batchflow's search attributes (without them every submit is refused);
 * when it lacks some, `fix` is the command that adds them. No raw error text is ever shown.
 */
export function healthRoutes(deps: {
  /** A round trip to the database (app.ts: `select 1`). */
  pingDatabase: () => Promise<unknown>;
  client: Client;
  log?: Logger;
}): Router {
  const router = new Router();
  let attributesOkUntil = 0;

  /** 'ok', or what is missing and the fix. A namespace whose attributes cannot be listed passes. */
  async function searchAttributes(): Promise<{ check: string; fix?: string }> {
    if (Date.now() < attributesOkUntil) return { check: 'ok' };
    const namespace = deps.client.options.namespace;
    let found;
    try {
      found = await withTimeout(checkSearchAttributes(deps.client.connection.operatorService, namespace), PROBE_DEADLINE_MS);
    } catch {
      // Listing may be forbidden (Temporal Cloud keys); the submit path still explains a refusal.
      return { check: 'ok' };
    }
    if (found.wrongType.length > 0) {
      return {
        check: `search attributes with the wrong type: ${found.wrongType.map((a) => a.name).join(', ')}`,
        fix: 'see the worker log',
      };
    }
    if (found.missing.length > 0) {
      return {
        check: `missing search attributes: ${found.missing.map((a) => a.name).join(', ')}`,
        fix: registerCommand(found.missing, { namespace, address: (deps.client.connection as Partial<Connection>).options?.address }),
      };
    }
    attributesOkUntil = Date.now() + ATTRIBUTES_OK_FOR_MS;
    return { check: 'ok' };
  }

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const [database, reachable] = await Promise.all([
      probe('database', deps.pingDatabase, deps.log),
      probe(
        'temporal',
        () => deps.client.withDeadline(Date.now() + PROBE_DEADLINE_MS, () => deps.client.workflowService.getSystemInfo({})),
        deps.log,
      ),
    ]);
    const attributes = reachable === 'ok' ? await searchAttributes() : { check: reachable };
    const temporal = attributes.check;
    const ready = database === 'ok' && temporal === 'ok';
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: ready ? 'ready' : 'unavailable',
      // Which namespace this process works in: a deployment pointed at the wrong one is seen here.
      namespace: deps.client.options.namespace,
      checks: { database, temporal },
      ...(attributes.fix ? { fix: attributes.fix } : {}),
    };
  });
  return router;
}

/** 'ok', 'timed out' or 'unreachable': the error itself stays out of an unauthenticated answer and goes to the log. */
async function probe(what: string, check: () => Promise<unknown>, log: Logger | undefined): Promise<string> {
  try {
    await withTimeout(check(), PROBE_DEADLINE_MS);
    return 'ok';
  } catch (err) {
    log?.warn({ err, dependency: what }, 'readyz: a dependency is down');
    return /timed out/.test((err as Error).message) ? 'timed out' : 'unreachable';
  }
}
