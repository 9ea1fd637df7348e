import { BatchConflict, CallbackRefused, IdempotencyMismatch, TooManyActiveBatches, TooManyItems, Unavailable } from '../../batches/service';
import { BadCursor } from '../../db/batches';
import { conflict, idempotencyKeyReused, tooManyActiveBatches, unavailable, validationFailed } from '../errors';

/** Maps the service's domain errors onto the contract's codes. */
export async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof BatchConflict) throw conflict(err.message);
    if (err instanceof IdempotencyMismatch) throw idempotencyKeyReused();
    if (err instanceof Unavailable) throw unavailable(err.message, err.reason);
    if (err instanceof TooManyItems) throw validationFailed([{ path: 'items', issue: err.message }]);
    if (err instanceof TooManyActiveBatches) throw tooManyActiveBatches(err.limit, err.retryAfter);
    if (err instanceof CallbackRefused) throw validationFailed([{ path: 'callback_url', issue: err.message }]);
    if (err instanceof BadCursor) throw validationFailed([{ path: 'cursor', issue: err.message }]);
    throw err;
  }
}

