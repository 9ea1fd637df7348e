/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
import type { Connection } from '@temporalio/client';
import { configuredTarget, connectClientConnection } from '../temporal/connection';
import { loadConfig, type Config } from '../config';
import { migrateToLatest } from '../db/migrate';
import { setUpSearchAttributes } from '../temporal/search-attribute-setup';
import { openDatabase } from './boot';

async function main(): Promise<void> {
  const config = loadConfig();
  // Opening the embedded database fails with a clear message while `npm start` holds it.
  const { db, kind, close } = await openDatabase(config);
  try {
    const applied = await migrateToLatest(db);
    console.log(applied.length > 0 ? `applied to ${kind}: ${applied.join(', ')}` : `${kind} is up to date`);
  } finally {
    await close();
  }
  await searchAttributes(config);
}

/**
 * With TEMPORAL_ADDRESS (an existing Temporal; `npm start`'s dev server registers its own), the
 * namespace's custom search attributes, as the worker does at start. Not fatal: the migration is
 * done, and Temporal may not be up yet (compose starts migrate before it); the worker checks again.
 */
async function searchAttributes(config: Config): Promise<void> {
  const { address, namespace, registerSearchAttributes: register } = config.temporal;
  if (!address) return;
  let connection: Connection;
  try {
    connection = await connectClientConnection(configuredTarget(config.temporal), { connectTimeoutMs: 10_000 });
  } catch (err) {
    console.warn(`${(err as Error).message}; its search attributes were not checked (the worker checks them again at start)`);
    return;
  }
  try {
    await setUpSearchAttributes(connection.operatorService, {
      namespace,
      register,
      address,
      info: (m) => console.log(m),
      warn: (m) => console.warn(m),
    });
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
