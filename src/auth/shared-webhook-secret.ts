/**
 * The deployment-wide webhook secret, which signs only for tenants without a secret of their own
 * (src/db/webhook-secrets.ts). In the embedded mode: WEBHOOK_SECRET when set, else the one kept in
 * `<data dir>/webhook-secret` (mode 0600) across restarts, else a new one written there. Receivers
 * verify signatures with it, so it must not change under them at every start.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { tenantsSignedWithShared } from '../db/webhook-secrets';

export const WEBHOOK_SECRET_FILE = 'webhook-secret';

export function ensureWebhookSecret(opts: { dataDir: string; fixed?: string }): {
  secret: string;
  source: 'env' | 'file' | 'new';
  file: string;
} {
  const file = path.join(opts.dataDir, WEBHOOK_SECRET_FILE);
  if (opts.fixed) return { secret: opts.fixed, source: 'env', file };
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  if (existing) return { secret: existing, source: 'file', file };
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  fs.mkdirSync(opts.dataDir, { recursive: true });
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, source: 'new', file };
}

const named = (ids: string[]): string =>
  `${ids.length} tenant${ids.length === 1 ? '' : 's'} (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''})`;

/**
 * What a worker's operator should hear at start about the shared secret (never its value): whom it
 * still signs for, or that it is unused, or whose webhooks cannot be signed at all.
 */
export async function sharedSecretNotice(db: Kysely<Database>, shared: boolean): Promise<string | undefined> {
  const signedWithShared = await tenantsSignedWithShared(db);
  const howTo = 'give each its own with `npm run keys -- webhook-secret --tenant <tenant>`';
  if (shared && signedWithShared.length > 0) {
    const ids = signedWithShared.map((t) => t.id);
    return `WEBHOOK_SECRET signs the webhooks of ${named(ids)} (no secret of their own yet, or in the overlap of their first), and any tenant given it could forge theirs: ${howTo}, then unset WEBHOOK_SECRET`;
  }
  if (shared) return 'WEBHOOK_SECRET is set but unused: every tenant signs with its own secret; unset it';
  const unsigned = signedWithShared.filter((t) => !t.own).map((t) => t.id);
  if (unsigned.length > 0)
    return `${named(unsigned)} have no webhook signing secret and no WEBHOOK_SECRET stands in: their webhooks fail unsent; ${howTo}`;
  return undefined;
}
