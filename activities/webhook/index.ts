/**
 * The completion webhook's activities: `prepareWebhook` fixes the body once, `deliverWebhook` is
 * one attempt (Temporal retries it with the policy the worker's config gives), `webhookGaveUp`
 * records the end of a delivery that never got its 2xx. Every attempt is recorded on the batch row.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import {
  DEFAULT_WEBHOOK_RETRY,
  WebhookErrorType,
  type DeliverWebhookInput,
  type WebhookDeliveryInput,
  type WebhookOutcome,
  type WebhookPlan,
  type WebhookRetry,
} from '../../src/contracts/webhook';
import { getBatchById } from '../../src/db/batches';
import type { Database } from '../../src/db/schema';
import { failDelivery, isOpenDelivery, recordAttempt, startDelivery } from '../../src/db/webhooks';
import { signingSecretsForBatch } from '../../src/db/webhook-secrets';
import { checkCallbackUrl, type ResolveHost } from '../../src/net/ssrf';
import { postSigned } from './send';

export interface WebhookOptions {
  /**
   * WEBHOOK_SECRET: signs only for tenants that never had a secret of their own (deployments from
   * before per-tenant secrets). Without either, nothing is sent unsigned: deliveries fail, saying why.
   */
  secret?: string;
  /** ALLOW_PRIVATE_CALLBACKS: deliveries may reach private and loopback addresses. */
  allowPrivate?: boolean;
  /** Over DEFAULT_WEBHOOK_RETRY. */
  retry?: Partial<WebhookRetry>;
  /** The resolver the SSRF check uses (tests give their own). */
  resolve?: ResolveHost;
}

/** Error types of one attempt that Temporal retries. */
const NOT_ACCEPTED = 'WebhookNotAccepted';

export const webhookActivities = (db: Kysely<Database>, opts: WebhookOptions = {}) => {
  const retry: WebhookRetry = { ...DEFAULT_WEBHOOK_RETRY, ...opts.retry };
  /** Tenants already warned about, in this process, that the shared WEBHOOK_SECRET signs for them. */
  const warnedShared = new Set<string>();

  /**
   * The secrets that sign this attempt, read now (never carried in the workflow's history, and a
   * retry after a rotation signs with the new secret too), or why there are none.
   */
  const signingSecrets = async (batchId: string): Promise<{ secrets: string[] } | { error: string }> => {
    const found = await signingSecretsForBatch(db, batchId);
    if (found?.own) {
      // A null is WEBHOOK_SECRET, still signing through the tenant's first rotation (if still set).
      const secrets = found.secrets.map((s) => s ?? opts.secret).filter((s): s is string => Boolean(s));
      return secrets.length > 0 ? { secrets } : { error: `not sent: tenant ${found.tenantId} has no active signing secret` };
    }
    if (!opts.secret) return { error: 'not sent: the tenant has no signing secret of its own and the worker no WEBHOOK_SECRET' };
    if (found && !warnedShared.has(found.tenantId)) {
      warnedShared.add(found.tenantId);
      Context.current().log.warn(
        'signed with the shared WEBHOOK_SECRET: this tenant has no signing secret of its own (`npm run keys -- webhook-secret --tenant <tenant>`)',
        { tenantId: found.tenantId },
      );
    }
    return { secrets: [opts.secret] };
  };

  return {
    /**
     * Takes over the batch's delivery record and builds the body, once: every attempt then sends
     * the same bytes, whatever happens to the row meanwhile. Null when the batch has no callback.
     */
    async prepareWebhook(input: WebhookDeliveryInput): Promise<WebhookPlan | null> {
      const row = await getBatchById(db, input.batchId);
      if (!row?.callback_url) return null;
      await startDelivery(db, input.batchId, input.deliveryId);
      const body = JSON.stringify({
        event: 'batch.finished',
        batch_id: input.batchId,
        status: input.status,
        counts: input.counts,
        cost: input.cost,
        rolled_back: input.rolledBack,
        items_url: `/v1/batches/${input.batchId}/items`,
        // A redrive may already have reopened the row: then the workflow's clock says when.
        finished_at: row.completed_at ? row.completed_at.toISOString() : input.finishedAt,
      });
      return { url: row.callback_url, body, retry };
    },

    /**
     * One attempt: check the URL's addresses again (they may have changed since submission),
     * then POST over a connection pinned to them. A 2xx delivers; anything else is retried; an
     * address now refused fails the delivery for good.
     */
    async deliverWebhook(input: DeliverWebhookInput): Promise<WebhookOutcome> {
      const { attempt } = Context.current().info;
      const { batchId, deliveryId } = input;
      if (!(await isOpenDelivery(db, batchId, deliveryId))) return { status: 'skipped', attempts: attempt - 1, lastError: null };
      const fail = async (type: string, error: string): Promise<never> => {
        await recordAttempt(db, batchId, deliveryId, { status: 'failed', attempts: attempt, lastError: error });
        throw ApplicationFailure.create({ type, message: error, nonRetryable: true });
      };
      const signing = await signingSecrets(batchId);
      if ('error' in signing) return fail(WebhookErrorType.NoSecret, signing.error);

      const check = await checkCallbackUrl(input.url, { allowPrivate: opts.allowPrivate ?? false, resolve: opts.resolve });
      let error: string;
      if (!check.ok) {
        if (!check.retryable) return fail(WebhookErrorType.Refused, `refused: callback_url ${check.reason}`);
        error = check.reason;
      } else {
        try {
          const res = await postSigned({
            url: check.url,
            addresses: check.addresses,
            body: input.body,
            secrets: signing.secrets,
            deliveryId,
            timeoutMs: retry.attemptTimeoutMs,
          });
          if (res.status >= 200 && res.status < 300) {
            await recordAttempt(db, batchId, deliveryId, { status: 'delivered', attempts: attempt, lastError: null });
            return { status: 'delivered', attempts: attempt, lastError: null };
          }
          error = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
        } catch (err) {
          error = (err as Error).message;
        }
      }
      await recordAttempt(db, batchId, deliveryId, { status: 'pending', attempts: attempt, lastError: error });
      throw ApplicationFailure.create({ type: NOT_ACCEPTED, message: error });
    },

    /** The delivery ended without a 2xx: its record says failed. Answers the record. */
    async webhookGaveUp(input: { batchId: string; deliveryId: string; error: string }): Promise<WebhookOutcome> {
      return failDelivery(db, input.batchId, input.deliveryId, input.error);
    },
  };
};
