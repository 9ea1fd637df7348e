/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../config';
import { migrateToLatest } from '../db/migrate';
import { openDatabase } from './runtime';

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
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
