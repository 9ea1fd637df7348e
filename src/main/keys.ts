/**
 * `npm run keys -- create|list|revoke|webhook-secret`: operators mint and revoke API keys, each with
 * its own limits, and rotate each tenant's webhook signing secret (shown once, when it is made).
 * Works on DATABASE_URL, else on the embedded database, which only one process may open: while
 * `npm start` holds it, this command refuses with a message instead of touching its files.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config';
import { assertMigrated, migrateToLatest } from '../db/migrate';
import { createKey, listKeys, revokeKey, tenantExists } from '../db/keys';
import { createFirstWebhookSecret, hasOwnWebhookSecret, listWebhookSecrets } from '../db/webhook-secrets';
import { parseOverlap, webhookSecretCommand } from './keys-webhook';
import { tenantUuid } from '../batches/ids';
import { describeOverrides, parseRates } from '../auth/limits';
import { MAX_ITEMS } from '../contracts/http';
import type { Db } from '../db/connect';
import { openDatabase } from './boot';

const USAGE = `usage:
  npm run keys -- create --tenant TENANT [--label LABEL] [--max-items N] [--max-active-batches N]
                         [--rate submissions=60/m,reads=600/m,exports=30/m]
  npm run keys -- list [--tenant TENANT]
  npm run keys -- revoke KEY_ID
  npm run keys -- webhook-secret --tenant TENANT [--overlap 24h]
  npm run keys -- webhook-secret --tenant TENANT --retire

\`create\` gives a tenant that has none its own webhook signing secret. \`webhook-secret\` rotates it: a new
secret, shown once; the previous one keeps signing beside it for --overlap (N s|m|h|d, at most 30d;
0 stops it now, for a leaked secret), or until \`--retire\` ends the overlap.
A rate is N/WINDOW with WINDOW one of s, m, h, d, optionally counted (reads=3/10s).
Limits not given follow the API's defaults (MAX_ITEMS_PER_BATCH, MAX_ACTIVE_BATCHES, RATE_LIMIT_*_PER_MINUTE;
the contract's: 3 active batches, 60 submissions, 600 reads and 30 exports a minute).
The database is DATABASE_URL, else the embedded one in BATCHFLOW_DATA_DIR (stop \`npm start\` first).`;

class UsageError extends Error {}

function positiveInt(flag: string, value: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${flag} must be an integer from 1 to ${max}`);
  return n;
}

async function open(config: Config): Promise<Db> {
  let database: Db;
  try {
    database = await openDatabase(config);
  } catch (err) {
    if (config.databaseUrl) throw err;
    const dir = path.join(config.dataDir, 'pglite');
    throw new Error(
      `cannot open the embedded database in ${dir}: ${err instanceof Error ? err.message : String(err)}\n` +
        'If `npm start` is running, stop it first (the embedded database serves one process), or set DATABASE_URL to manage keys on PostgreSQL.',
      { cause: err },
    );
  }
  // The embedded database is this machine's own: bring it up to date as `npm start` would.
  // PostgreSQL is migrated by the operator (`npm run migrate`), as the API and workers require.
  if (database.kind === 'pglite') await migrateToLatest(database.db);
  else await assertMigrated(database.db);
  return database;
}

function printTable(table: string[][]): void {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table)
    console.log(
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
}

const when = (d: Date | null): string => (d ? new Date(d).toISOString().replace(/\.\d+Z$/, 'Z') : '-');

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      label: { type: 'string' },
      'max-items': { type: 'string' },
      'max-active-batches': { type: 'string' },
      rate: { type: 'string' },
      overlap: { type: 'string' },
      retire: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  if (!['create', 'list', 'revoke', 'webhook-secret'].includes(command)) throw new UsageError(`unknown command "${command}"`);

  // Everything the command line says is checked before the database is opened.
  let limits: Record<string, number> = {};
  if (command === 'create' || command === 'webhook-secret') {
    if (!values.tenant) throw new UsageError(`${command} needs --tenant`);
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(values.tenant)) throw new UsageError('--tenant: 1..100 letters, digits, ".", "_" or "-"');
  }
  let overlapSeconds = 0;
  if (command === 'webhook-secret') {
    if (values.retire && values.overlap !== undefined) throw new UsageError('--retire and --overlap do not go together');
    try {
      overlapSeconds = parseOverlap(values.overlap);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (command === 'create') {
    const maxItems = positiveInt('max-items', values['max-items'], MAX_ITEMS);
    const maxActive = positiveInt('max-active-batches', values['max-active-batches']);
    limits = {
      ...(maxItems ? { max_items: maxItems } : {}),
      ...(maxActive ? { max_active_batches: maxActive } : {}),
    };
    try {
      if (values.rate) Object.assign(limits, parseRates(values.rate));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  if (command === 'revoke' && rest.length !== 1) throw new UsageError('revoke needs exactly one KEY_ID (see `list`)');

  const config = loadConfig();
  const database = await open(config);
  try {
    if (command === 'create') {
      const isNew = !(await tenantExists(database.db, values.tenant!));
      const { id, key } = await createKey(database.db, { tenantId: values.tenant!, label: values.label, limits });
      console.log(`id:     ${id}`);
      console.log(`tenant: ${values.tenant}`);
      // The document design (shared/seeds/001) names its tenant by UUID.
      console.log(`tenant_uuid: ${tenantUuid(values.tenant!)}`);
      console.log(`limits: ${describeOverrides(limits, config.limits) || 'defaults'}`);
      console.log(`key:    ${key}`);
      console.error('The key is shown this once; only its hash is stored. Send it as X-Api-Key or Authorization: Bearer.');
      // Only a new tenant: an older one is signed with WEBHOOK_SECRET, and a secret made here would
      // switch its receivers over at once; its first rotation keeps WEBHOOK_SECRET through an overlap.
      const signing = isNew ? await createFirstWebhookSecret(database.db, values.tenant!) : undefined;
      if (signing) {
        console.log(`webhook_secret_id: ${signing.id}`);
        console.log(`webhook_secret: ${signing.secret}`);
        console.error("The webhook secret is shown this once too: the tenant's receivers verify X-Batchflow-Signature with it.");
      } else if (!(await hasOwnWebhookSecret(database.db, values.tenant!))) {
        console.error(
          `Tenant ${values.tenant} has no webhook secret of its own (WEBHOOK_SECRET signs for it): \`npm run keys -- webhook-secret --tenant ${values.tenant}\` gives it one.`,
        );
      }
    } else if (command === 'list') {
      const keys = await listKeys(database.db, values.tenant);
      const rows = keys.map((k) => [
        k.id,
        k.tenantId,
        k.label ?? '-',
        describeOverrides(k.limits, config.limits) || 'defaults',
        when(k.createdAt),
        when(k.revokedAt),
      ]);
      printTable([['ID', 'TENANT', 'LABEL', 'LIMITS', 'CREATED', 'REVOKED'], ...rows]);
      const secrets = await listWebhookSecrets(database.db, values.tenant);
      if (secrets.length > 0) {
        const state = (s: (typeof secrets)[number]): string =>
          `${!s.expiresAt ? 'active' : s.active ? `active until ${when(s.expiresAt)}` : `retired ${when(s.expiresAt)}`}${s.shared ? ' (WEBHOOK_SECRET)' : ''}`;
        console.log('');
        printTable([
          ['WEBHOOK SECRET', 'TENANT', 'CREATED', 'SIGNS'],
          ...secrets.map((s) => [s.id, s.tenantId, when(s.createdAt), state(s)]),
        ]);
      }
    } else if (command === 'webhook-secret') {
      await webhookSecretCommand(database.db, { tenantId: values.tenant!, retire: Boolean(values.retire), overlapSeconds });
    } else {
      const id = rest[0]!;
      if (!(await revokeKey(database.db, id))) throw new Error(`no active key with id ${id}`);
      console.log(`revoked ${id}`);
    }
  } finally {
    await database.close();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // parseArgs refuses unknown or malformed options with ERR_PARSE_ARGS_*: a usage error too.
  const usage = err instanceof UsageError || String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
  console.error(`keys: ${err instanceof Error ? err.message : String(err)}${usage ? `\n\n${USAGE}` : ''}`);
  process.exit(usage ? 2 : 1);
});
