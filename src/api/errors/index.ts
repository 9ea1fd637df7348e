/** The contract's error codes, one constructor each, so routes read as what they mean. */
import { AppError, type ErrorDetail } from './app-error';

export { AppError, type ErrorDetail };

export const validationFailed = (details: ErrorDetail[]): AppError =>
  new AppError(400, 'validation_failed', details.length > 0 ? `${details[0]!.path || 'body'}: ${details[0]!.issue}` : 'invalid request', details);
export const malformedJson = (why: string): AppError => new AppError(400, 'malformed_json', `the body is not valid JSON: ${why}`);
export const unauthorized = (): AppError => new AppError(401, 'unauthorized', 'a valid API key is required (X-Api-Key or Authorization: Bearer)');
export const notFound = (what = 'batch'): AppError => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string): AppError => new AppError(409, 'conflict', message);
export const payloadTooLarge = (limit: number): AppError => new AppError(413, 'payload_too_large', `the body is larger than ${limit} bytes`);
export const unsupportedMediaType = (expected: string): AppError => new AppError(415, 'unsupported_media_type', `expected ${expected}`);
export const idempotencyKeyReused = (): AppError =>
  new AppError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different body');
/** `reason`, when known, says why instead of "unreachable". */
export const unavailable = (what: string, reason?: string): AppError =>
  new AppError(503, 'unavailable', reason ? `${reason}; the request had no effect` : `${what} is unreachable; the request had no effect`, undefined, 5);
export const rateLimited = (bucket: string, limit: number, retryAfter: number): AppError =>
  new AppError(429, 'rate_limited', `this key's ${bucket} limit (${limit} per window) is used up; retry after ${retryAfter} s`, undefined, retryAfter);
export const tooManyActiveBatches = (limit: number, retryAfter: number): AppError =>
  new AppError(429, 'too_many_active_batches', `at most ${limit} batches may be queued, running, paused or cancelling at once; retry after one finishes`, undefined, retryAfter);
