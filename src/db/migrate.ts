/** Migrations, listed in code so they bundle and run the same from tsx, a build, or a container. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import * as m0001 from './migrations/0001_initial';
import * as m0002 from './migrations/0002_item_effects';
import * as m0003 from './migrations/0003_stages';
import * as m0004 from './migrations/0004_webhooks';
import * as m0005 from './migrations/0005_rate_limits';
import * as m0006 from './migrations/0006_publish_sent';
import * as m0007 from './migrations/0007_webhook_secrets';
import * as m0008 from './migrations/0008_rate_limits_unlogged';
import * as m0009 from './migrations/0009_batch_changes';

const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_item_effects': m0002,
  '0003_stages': m0003,
  '0004_webhooks': m0004,
  '0005_rate_limits': m0005,
  '0006_publish_sent': m0006,
  '0007_webhook_secrets': m0007,
  '0008_rate_limits_unlogged': m0008,
  '0009_batch_changes': m0009,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/**
 * `schema` names where the migration tables live when it is not `public` (tests work in a schema
 * each). Kysely looks the tables up by name, so without it a second schema would find the first's.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const migrator = (db: Kysely<any>, schema?: string): Migrator =>
  new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });

/**
 * Kysely's migrator first looks for its tables by listing every table of every schema in the
 * database, and that listing resolves each table by name (`pg_get_serial_sequence`). A schema that
 * another session drops while the listing runs (another test's, another application's on a shared
 * server) fails it with "schema ... does not exist" (3F000) or "relation ... does not exist"
 * (42P01), naming a schema that is not ours. The listing only reads and the migrations run under
 * Kysely's lock, so looking again is safe; CI hit this once in a few hundred parallel test files.
 */
const VANISHED = new Set(['3F000', '42P01']);
const LOOKS = 10;

export async function lookingAgainIfASchemaVanished<T>(run: () => Promise<T>): Promise<T> {
  for (let look = 1; ; look++) {
    try {
      return await run();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (look >= LOOKS || typeof code !== 'string' || !VANISHED.has(code)) throw err;
      await sleep(20 * look);
    }
  }
}

/** Applies every pending migration. Kysely's migrator takes a lock, so concurrent callers are safe. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations work below the typed schema
export async function migrateToLatest(db: Kysely<any>, schema?: string): Promise<string[]> {
  const { error, results } = await lookingAgainIfASchemaVanished(async () => {
    const outcome = await migrator(db, schema).migrateToLatest();
    // Kysely reports a failure in the result, not as a throw: throw it, so it can be looked at again.
    if (outcome.error && outcome.results === undefined) throw outcome.error;
    return outcome;
  });
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The names of migrations not yet applied. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function pendingMigrations(db: Kysely<any>, schema?: string): Promise<string[]> {
  const all = await lookingAgainIfASchemaVanished(() => migrator(db, schema).getMigrations());
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Production processes refuse a database that is behind: `npm run migrate` first. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function assertMigrated(db: Kysely<any>): Promise<void> {
  const pending = await pendingMigrations(db);
  if (pending.length > 0) {
    throw new Error(`the database is behind (pending migrations: ${pending.join(', ')}); run \`npm run migrate\` first`);
  }
}
