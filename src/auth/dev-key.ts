/**
 * The development key of the embedded mode: fixed by BATCHFLOW_DEV_API_KEY, else kept in
 * `<data dir>/dev-api-key` across restarts, else made now. The database keeps only its hash.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { ensureTenant, newKey, putKey } from '../db/keys';

export const DEV_TENANT = 'dev';
const DEV_KEY_ID = 'key_dev';

export async function ensureDevKey(db: Kysely<Database>, opts: { dataDir: string; fixed?: string }): Promise<string> {
  const file = path.join(opts.dataDir, 'dev-api-key');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  const key = opts.fixed ?? (existing || newKey());
  fs.mkdirSync(opts.dataDir, { recursive: true });
  if (key !== existing) fs.writeFileSync(file, `${key}\n`, { mode: 0o600 });
  await ensureTenant(db, DEV_TENANT, 'Development');
  await putKey(db, DEV_KEY_ID, DEV_TENANT, key, 'development key');
  return key;
}
