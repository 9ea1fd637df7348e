/**
 * `npm run keys -- webhook-secret`: a tenant's signing secret, rotated with an overlap so that its
 * receivers can switch without losing a webhook (issue 13). The secret is printed once, on stdout;
 * everything else goes to stderr.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { retireOlderWebhookSecrets, rotateWebhookSecret } from '../db/webhook-secrets';

/** A day: time for a receiver's owner to deploy the new secret. */
export const DEFAULT_OVERLAP_SECONDS = 24 * 3_600;
/** Past a month an "overlap" is two permanent secrets; retire by hand instead. */
const MAX_OVERLAP_SECONDS = 30 * 86_400;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** `--overlap`: `0`, or N followed by s, m, h or d. Unset: DEFAULT_OVERLAP_SECONDS. */
export function parseOverlap(value: string | undefined): number {
  if (value === undefined) return DEFAULT_OVERLAP_SECONDS;
  if (value === '0') return 0;
  const m = /^(\d+)([smhd])$/.exec(value);
  const seconds = m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! : NaN;
  if (!(seconds >= 0 && seconds <= MAX_OVERLAP_SECONDS)) throw new Error('--overlap must be 0 or N followed by s, m, h or d, at most 30d');
  return seconds;
}

const iso = (d: Date): string => new Date(d).toISOString().replace(/\.\d+Z$/, 'Z');

export async function webhookSecretCommand(
  db: Kysely<Database>,
  opts: { tenantId: string; retire: boolean; overlapSeconds: number },
): Promise<void> {
  if (opts.retire) {
    const retired = await retireOlderWebhookSecrets(db, opts.tenantId);
    console.log(
      retired.length > 0 ? `retired ${retired.join(', ')}: only the newest secret signs now` : 'nothing to retire: one secret signs',
    );
    return;
  }
  const made = await rotateWebhookSecret(db, opts.tenantId, opts.overlapSeconds);
  console.log(`webhook_secret_id: ${made.id}`);
  console.log(`tenant: ${opts.tenantId}`);
  console.log(`webhook_secret: ${made.secret}`);
  for (const p of made.previous) {
    const ends = opts.overlapSeconds === 0 ? 'stopped signing now' : `also signs until ${iso(p.expiresAt)} (end it sooner with --retire)`;
    console.error(`The previous secret ${p.id} ${ends}.`);
  }
  console.error("The secret is shown this once; the tenant's receivers verify X-Batchflow-Signature with it.");
}
