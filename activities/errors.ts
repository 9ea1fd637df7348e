/**
 * Failure types matched by name across the activity/workflow boundary (never by instanceof).
 * Types listed in a stage's `nonRetryableErrorTypes` are permanent; everything else is retried.
 */
export const ErrorType = {
  /** The item is wrong for the stage: bad content, unclassifiable input. */
  Validation: 'ValidationError',
  /** The downstream system refused the item (a 4xx other than 429). */
  DownstreamRejected: 'DownstreamRejected',
  NotFound: 'NotFound',
  /** The batch's rows are gone: nothing to do, and retrying will not bring them back. */
  BatchMissing: 'BatchMissing',
  /** Timeouts, connection errors, 5xx, 429: worth another try. */
  Transient: 'TransientError',
} as const;

/** One item's failure, in the contract's shape (without attempts, which the runner adds). */
export interface ItemFailure {
  code: string;
  message: string;
  retryable: boolean;
  /** For transient failures that named one (429/503 Retry-After). */
  retryAfterMs?: number;
}
