/**
 * The completion webhook of one batch run, as a workflow of its own: the batch workflow starts it
 * (parent close policy ABANDON) and closes at once, so a slow or absent receiver never holds a
 * batch open, and a redrive never waits for one. Retries are Temporal's, with the policy that the
 * worker's config gives (it comes back from `prepareWebhook`, so it is in this history).
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import { WebhookErrorType, type WebhookDeliveryInput, type WebhookOutcome } from '../src/contracts/webhook';

/** Beyond the attempt's own timeout: time to record the attempt before Temporal calls it lost. */
const RECORD_MARGIN_MS = 30_000;

/**
 * The RetryPolicy's limit. `maximumAttempts: 0` (the shipped default, "until the window ends")
 * means no limit, and must reach Temporal as none: the SDK refuses a limit of 0.
 */
const attemptLimit = (maximumAttempts: number): number | undefined => (maximumAttempts > 0 ? maximumAttempts : undefined);

const book = wf.proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function deliverWebhookWorkflow(input: WebhookDeliveryInput): Promise<WebhookOutcome> {
  const plan = await book.prepareWebhook(input);
  if (!plan) return { status: 'skipped', attempts: 0, lastError: null };
  const r = plan.retry;
  const maximumAttempts = attemptLimit(r.maximumAttempts);
  const { deliverWebhook } = wf.proxyActivities<Activities>({
    startToCloseTimeout: r.attemptTimeoutMs + RECORD_MARGIN_MS,
    // The retry window: past it Temporal stops retrying, and the delivery is failed.
    scheduleToCloseTimeout: r.windowMs,
    retry: {
      initialInterval: r.initialIntervalMs,
      backoffCoefficient: r.backoffCoefficient,
      maximumInterval: r.maximumIntervalMs,
      maximumAttempts,
      nonRetryableErrorTypes: [WebhookErrorType.Refused, WebhookErrorType.NoSecret],
    },
  });
  try {
    return await deliverWebhook({ batchId: input.batchId, deliveryId: input.deliveryId, url: plan.url, body: plan.body });
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    const cause = err instanceof wf.ActivityFailure && err.cause ? err.cause : (err as Error);
    return book.webhookGaveUp({ batchId: input.batchId, deliveryId: input.deliveryId, error: cause.message });
  }
}
