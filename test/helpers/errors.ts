/** What the error-contract tests share: one check of the contract's error shape. */
import assert from 'node:assert/strict';

export interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ path: string; issue: string }>; retry_after?: number; request_id: string };
}

/**
 * Asserts the contract's error answer: status, code, a message, and the request id both in the
 * body and in X-Request-Id.
 */
export async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  const body = JSON.parse(text) as ErrorBody;
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  const requestId = res.headers.get('x-request-id');
  assert.ok(requestId, 'every response carries X-Request-Id');
  assert.equal(body.error.request_id, requestId, 'the error names the request id it was sent with');
  return body;
}

/** A 429 (or 503) says when to come back twice: the Retry-After header and `retry_after`, the same whole seconds. */
export function assertRetryAfter(res: Response, body: ErrorBody): number {
  const header = res.headers.get('retry-after');
  assert.ok(header, 'Retry-After is set');
  assert.match(header, /^\d+$/);
  const seconds = Number(header);
  assert.ok(seconds >= 1, `Retry-After ${seconds} is at least a second`);
  assert.equal(body.error.retry_after, seconds, 'retry_after matches Retry-After');
  return seconds;
}
