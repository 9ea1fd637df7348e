/** A detail of a failed validation: which path, and what is wrong with it. */
export interface ErrorDetail {
  path: string;
  issue: string;
}

/**
 * Thrown when a request cannot be served; the error middleware turns it into the contract's
 * error body with this status and code.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    /** Seconds, for 429 and 503: sent as Retry-After and as `retry_after`. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}
