/**
 * Messages of the completion webhook: between the batch workflow, the delivery workflow and its
 * activities. Imported by workflow code, so plain constants and types only.
 */
import type { BatchStatus, Cost, Counts } from './workflow';

/** The delivery's retry policy (durations in ms); the worker's config decides it. */
export interface WebhookRetry {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** 0: unlimited, within the window. */
  maximumAttempts: number;
  /** How long after the first attempt the delivery gives up (the activity's schedule-to-close). */
  windowMs: number;
  /** One attempt: connect, send, and the receiver's status line. */
  attemptTimeoutMs: number;
}

/**
 * Defaults: attempts 5 s, 10 s, 20 s, ... apart, then every 10 minutes for a day (about 150), so a
 * receiver that is down for maintenance still hears about the batch; 10 s is plenty for a receiver
 * that only has to queue the event.
 */
export const DEFAULT_WEBHOOK_RETRY: WebhookRetry = {
  initialIntervalMs: 5_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 10 * 60_000,
  maximumAttempts: 0,
  windowMs: 24 * 60 * 60_000,
  attemptTimeoutMs: 10_000,
};

/** What the batch workflow hands the delivery: the batch's end as it recorded it. */
export interface WebhookDeliveryInput {
  batchId: string;
  /** One per batch run that finished: a redrive that finishes again notifies again. */
  deliveryId: string;
  status: BatchStatus;
  counts: Counts;
  cost: Cost;
  rolledBack: boolean;
  /** The workflow's clock at the end; the row's completed_at wins when the row still has it. */
  finishedAt: string;
}

/** The body and target of one delivery, fixed once so that every attempt sends the same bytes. */
export interface WebhookPlan {
  url: string;
  body: string;
  retry: WebhookRetry;
}

export interface DeliverWebhookInput {
  batchId: string;
  deliveryId: string;
  url: string;
  body: string;
}

export type WebhookStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookOutcome {
  /** `skipped`: the batch has no callback_url any more (or is gone), or a newer delivery replaced this one. */
  status: WebhookStatus | 'skipped';
  attempts: number;
  lastError: string | null;
}

export const WEBHOOK_WORKFLOW_TYPE = 'deliverWebhookWorkflow';
/** The delivery of one batch run's end; the run id keeps a redrive's delivery apart from the first. */
export const webhookWorkflowIdFor = (batchId: string, runId: string): string => `webhook-${batchId}-${runId}`;

/** Failure types of the delivery activity (matched by name across the boundary). */
export const WebhookErrorType = {
  /** The callback URL resolves to an address that is not allowed: retrying will not change that. */
  Refused: 'CallbackRefused',
  /** Nothing to sign with: the tenant has no active secret and no WEBHOOK_SECRET stands in for it. */
  NoSecret: 'WebhookSecretMissing',
} as const;
