/**
 * batchflow's one error family. Each error carries what the contract answers with: the HTTP
 * status, the error code, the message, and where they apply the failing paths (`details`) and
 * `retryAfter`. The use-case layer (src/batches), the database queries and the HTTP layer all
 * throw these; the error middleware (src/api/middleware/error-handler.ts) turns any of them into
 * the contract's error body, so no caller maps errors by hand.
 */

/** A detail of a failed validation: which path, and what is wrong with it. */
export interface ErrorDetail {
  path: string;
  issue: string;
}

export class BatchflowError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    /** Seconds, for 429 and 503: sent as Retry-After and as `retry_after`. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The message of a failed validation: its first failing path and what is wrong there. */
const firstProblem = (details: ErrorDetail[]): string =>
  details.length > 0 ? `${details[0]!.path || 'body'}: ${details[0]!.issue}` : 'invalid request';

/** The request fails the schema or a check beyond it: 400 naming every failing path. */
export class ValidationFailed extends BatchflowError {
  constructor(details: ErrorDetail[], message = firstProblem(details)) {
    super(400, 'validation_failed', message, details);
  }
}

/** A batch's state forbids the action (409). */
export class BatchConflict extends BatchflowError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

/** An Idempotency-Key came back with a different body (422). */
export class IdempotencyMismatch extends BatchflowError {
  constructor() {
    super(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different body');
  }
}

/**
 * Temporal or the database cannot be reached; nothing was left behind (503). `reason`, when
 * known, replaces "unreachable" in the answer (e.g. the namespace lacks the search attributes).
 */
export class Unavailable extends BatchflowError {
  constructor(
    readonly what: string,
    readonly reason?: string,
  ) {
    super(
      503,
      'unavailable',
      reason ? `${reason}; the request had no effect` : `${what} is unreachable; the request had no effect`,
      undefined,
      5,
    );
  }
}

/** A batch has more items than the key allows: 400 naming `items`. */
export class TooManyItems extends ValidationFailed {
  constructor(readonly limit: number) {
    super([{ path: 'items', issue: `at most ${limit} items per batch for this key` }]);
  }
}

/** The tenant already has the key's maximum of active batches (429). */
export class TooManyActiveBatches extends BatchflowError {
  constructor(readonly limit: number) {
    // Batches live for minutes: asking again sooner than this is wasted.
    super(
      429,
      'too_many_active_batches',
      `at most ${limit} batches may be queued, running, paused or cancelling at once; retry after one finishes`,
      undefined,
      30,
    );
  }
}

/** A callback_url may not be called back (not http(s), or not a public address): 400 naming it. */
export class CallbackRefused extends ValidationFailed {
  constructor(reason: string) {
    super([{ path: 'callback_url', issue: reason }]);
  }
}

/** A page cursor this server did not hand out: 400 naming `cursor`. */
export class BadCursor extends ValidationFailed {
  constructor(issue = 'cursor is not valid') {
    super([{ path: 'cursor', issue }]);
  }
}

// The HTTP layer's other refusals, one constructor each, so callers read as what they mean.
export const validationFailed = (details: ErrorDetail[]): BatchflowError => new ValidationFailed(details);
export const malformedJson = (why: string): BatchflowError =>
  new BatchflowError(400, 'malformed_json', `the body is not valid JSON: ${why}`);
export const unauthorized = (): BatchflowError =>
  new BatchflowError(401, 'unauthorized', 'a valid API key is required (X-Api-Key or Authorization: Bearer)');
export const notFound = (what = 'batch'): BatchflowError => new BatchflowError(404, 'not_found', `${what} not found`);
export const payloadTooLarge = (limit: number): BatchflowError =>
  new BatchflowError(413, 'payload_too_large', `the body is larger than ${limit} bytes`);
export const unsupportedMediaType = (expected: string): BatchflowError =>
  new BatchflowError(415, 'unsupported_media_type', `expected ${expected}`);
/** `reason`, when known, says why instead of "unreachable". */
export const unavailable = (what: string, reason?: string): BatchflowError => new Unavailable(what, reason);
export const rateLimited = (bucket: string, limit: number, retryAfter: number): BatchflowError =>
  new BatchflowError(
    429,
    'rate_limited',
    `this key's ${bucket} limit (${limit} per window) is used up; retry after ${retryAfter} s`,
    undefined,
    retryAfter,
  );
