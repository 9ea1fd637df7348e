/**
 * `npm run stale -- list|cancel`: the operator's view of stale work, batches queued or running for
 * longer than STALE_BATCH_MINUTES, across every tenant. Stale batches are only reported (the API's
 * `stale: true`, `GET /v1/batches?stale=true`); this command is how an operator ends them, through
 * the same cancel as the API's (a signal to the batch's workflow, which then stops and compensates
 * as its on_cancel says).
 *
 * It runs beside the API and workers, so it needs DATABASE_URL (and TEMPORAL_ADDRESS) like
 * `npm run api`: the embedded stack's PGlite serves only its own process. In embedded mode, use
 * the API instead (see USAGE).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import pino from 'pino';
import { assertMigrated } from '../db/migrate';
import { createBatches, type Batches } from '../batches';
import { BatchConflict, Unavailable } from '../errors';
import { connectClient, openDatabase } from './boot';
import { configuredTarget } from '../temporal/connection';

const USAGE = `usage:
  npm run stale -- list   [--tenant TENANT] [--older-than-minutes N]
  npm run stale -- cancel [--tenant TENANT] [--older-than-minutes N] [--rollback]

A batch is stale when it has been queued or running for longer than N minutes
(default STALE_BATCH_MINUTES, 120). cancel signals each one as POST /v1/batches/{id}/cancel does;
--rollback undoes what it staged or published, otherwise each batch's on_cancel decides.
Needs DATABASE_URL and TEMPORAL_ADDRESS, like \`npm run api\`. With the embedded stack (\`npm start\`
on PGlite), use the API instead: GET /v1/batches?stale=true, then POST /v1/batches/{id}/cancel.`;

export const NEEDS_DATABASE_URL =
  'stale: needs DATABASE_URL (PostgreSQL) and TEMPORAL_ADDRESS, like `npm run api`. The embedded database (PGlite) serves only ' +
  'the running `npm start` process; in embedded mode use the API: GET /v1/batches?stale=true, then POST /v1/batches/{id}/cancel.';

export class UsageError extends Error {}

export interface StaleDeps {
  batches: Pick<Batches, 'cancel' | 'staleBatches'>;
  /** STALE_BATCH_MINUTES, unless --older-than-minutes says otherwise. */
  staleAfterMinutes: number;
  out: (line: string) => void;
}

export interface StaleCommand {
  command: 'list' | 'cancel';
  tenantId?: string;
  olderThanMinutes?: number;
  rollback: boolean;
}

/** Reads the command line; throws UsageError on anything it does not understand. */
export function parseStaleArgs(argv: string[]): StaleCommand | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      'older-than-minutes': { type: 'string' },
      rollback: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) return 'help';
  if (command !== 'list' && command !== 'cancel') throw new UsageError(`unknown command "${command}"`);
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  if (command === 'list' && values.rollback) throw new UsageError('--rollback goes with cancel');
  let olderThanMinutes: number | undefined;
  if (values['older-than-minutes'] !== undefined) {
    olderThanMinutes = Number(values['older-than-minutes']);
    if (!Number.isFinite(olderThanMinutes) || olderThanMinutes < 0)
      throw new UsageError('--older-than-minutes must be a number of minutes, 0 or more');
  }
  return { command, tenantId: values.tenant, olderThanMinutes, rollback: values.rollback };
}

const minutesSince = (d: Date): number => Math.floor((Date.now() - d.getTime()) / 60_000);

/** Runs one command; answers the exit code (1 when a cancel could not be delivered). */
export async function runStale(cmd: StaleCommand, deps: StaleDeps): Promise<number> {
  const minutes = cmd.olderThanMinutes ?? deps.staleAfterMinutes;
  const before = new Date(Date.now() - minutes * 60_000);
  const scope = `queued or running for more than ${minutes} min${cmd.tenantId ? `, tenant ${cmd.tenantId}` : ''}`;
  let found = 0;
  let cancelled = 0;
  let failed = 0;
  for await (const row of deps.batches.staleBatches(before, cmd.tenantId)) {
    found++;
    const line = `${row.id}\t${row.tenant_id}\t${row.status}\t${row.created_at.toISOString()}\t${minutesSince(row.created_at)} min`;
    if (cmd.command === 'list') {
      deps.out(line);
      continue;
    }
    try {
      await deps.batches.cancel(row.tenant_id, row.id, cmd.rollback ? true : undefined);
      cancelled++;
      deps.out(`cancelled\t${line}`);
    } catch (err) {
      // It finished between the list and the cancel: nothing to do.
      if (err instanceof BatchConflict) {
        deps.out(`finished\t${line}`);
        continue;
      }
      failed++;
      // An unreachable Temporal is named as it always was: by what could not be reached.
      const why = err instanceof Unavailable ? err.what : err instanceof Error ? err.message : String(err);
      deps.out(`FAILED\t${line}\t${why}`);
    }
  }
  if (cmd.command === 'list') deps.out(`${found} stale batch${found === 1 ? '' : 'es'} (${scope})`);
  else
    deps.out(
      `cancelled ${cancelled} of ${found} stale batch${found === 1 ? '' : 'es'} (${scope})${failed ? `; ${failed} could not be signalled` : ''}`,
    );
  return failed > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const cmd = parseStaleArgs(argv);
  if (cmd === 'help') {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  if (!config.databaseUrl) {
    console.error(NEEDS_DATABASE_URL);
    return 2;
  }
  const database = await openDatabase(config);
  try {
    await assertMigrated(database.db);
    const client = await connectClient(configuredTarget(config.temporal));
    try {
      // The use-case layer's own warnings (a progress query that timed out) go to stderr, apart from the listing.
      const log = pino({ name: 'stale', level: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
      const batches = createBatches({
        db: database.db,
        client,
        log,
        taskQueue: config.temporal.taskQueue,
        namespace: config.temporal.namespace,
        uiUrl: config.temporal.uiUrl,
        retry: config.retry,
        staleAfterMinutes: config.staleBatchMinutes,
      });
      try {
        return await runStale(cmd, { batches, staleAfterMinutes: config.staleBatchMinutes, out: (line) => console.log(line) });
      } finally {
        // Its progress pollers stop before the connection they query closes, as in the API.
        batches.close();
      }
    } finally {
      await client.connection.close();
    }
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      // parseArgs refuses unknown or malformed options with ERR_PARSE_ARGS_*: a usage error too.
      const usage = err instanceof UsageError || String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
      console.error(`stale: ${err instanceof Error ? err.message : String(err)}${usage ? `\n\n${USAGE}` : ''}`);
      process.exit(usage ? 2 : 1);
    },
  );
}
