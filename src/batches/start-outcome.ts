/**
 * What a failed workflow start means for the batch it was for. Deleting a batch's rows is only
 * safe when the workflow certainly did not start: otherwise it would run with nothing to run.
 */
import { isGrpcServiceError, NamespaceNotFoundError, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';

/**
 * - `started`: the workflow exists (an earlier attempt of this start landed; its answer was lost).
 * - `refused`: Temporal answered no, or the request never left this process.
 * - `unknown`: the request may have been carried out (a timeout, a dropped connection, an internal
 *   error): the batch must be kept for the reconcile loop to settle.
 */
export type StartOutcome = 'started' | 'refused' | 'unknown';

/**
 * gRPC codes with which the server turns a request down without carrying it out (invalid
 * argument, e.g. a missing search attribute; namespace not found; no permission; rate limited; a
 * precondition; not implemented). Numbers as in grpc's `status` enum.
 */
const REFUSALS = new Map<number, string>([
  [3, 'INVALID_ARGUMENT'],
  [5, 'NOT_FOUND'],
  [7, 'PERMISSION_DENIED'],
  [8, 'RESOURCE_EXHAUSTED'],
  [9, 'FAILED_PRECONDITION'],
  [10, 'ABORTED'],
  [11, 'OUT_OF_RANGE'],
  [12, 'UNIMPLEMENTED'],
  [16, 'UNAUTHENTICATED'],
]);
const UNAVAILABLE = 14;
/**
 * grpc-js answers UNAVAILABLE with this when no connection could be picked for the call: the
 * request was never sent (the client's own retries, too, found no connection). Any other
 * UNAVAILABLE may follow a request that reached the server.
 */
const NEVER_SENT = 'No connection established';

/** The gRPC status under the SDK's wrapper (ServiceError keeps it as `cause`). */
function grpcStatus(err: unknown): { code: number; details: string } | undefined {
  for (let e = err, depth = 0; e && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e)) return { code: e.code, details: e.details ?? e.message };
  }
  return undefined;
}

export function startOutcome(err: unknown): StartOutcome {
  if (err instanceof WorkflowExecutionAlreadyStartedError) return 'started';
  // The SDK's own class for the server's NOT_FOUND on the namespace.
  if (err instanceof NamespaceNotFoundError) return 'refused';
  const grpc = grpcStatus(err);
  if (!grpc) return 'unknown';
  if (REFUSALS.has(grpc.code)) return 'refused';
  if (grpc.code === UNAVAILABLE && grpc.details.includes(NEVER_SENT)) return 'refused';
  return 'unknown';
}
