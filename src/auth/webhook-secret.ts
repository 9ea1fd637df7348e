/**
 * The webhook signing secret of the embedded mode: WEBHOOK_SECRET when set, else the one kept in
 * `<data dir>/webhook-secret` (mode 0600) across restarts, else a new one written there. Receivers
 * verify signatures with it, so it must not change under them at every start.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const WEBHOOK_SECRET_FILE = 'webhook-secret';

export function ensureWebhookSecret(opts: { dataDir: string; fixed?: string }): { secret: string; source: 'env' | 'file' | 'new'; file: string } {
  const file = path.join(opts.dataDir, WEBHOOK_SECRET_FILE);
  if (opts.fixed) return { secret: opts.fixed, source: 'env', file };
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  if (existing) return { secret: existing, source: 'file', file };
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  fs.mkdirSync(opts.dataDir, { recursive: true });
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, source: 'new', file };
}
