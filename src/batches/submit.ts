/**
 * Submitting a batch, and every check a submission gets beyond the schema (src/contracts/http.ts):
 * refs that appear twice, text with more refs than a batch holds, attributes or metadata too large
 * to copy into every answer, values PostgreSQL cannot store (toSubmission, with submit-checks.ts);
 * the key's item and active-batch limits, and a callback_url that may not be called back (submit).
 * Then the rows and the workflow: both or neither.
 */
import { createHash } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { KeyLimits } from '../auth/limits';
import { refsFromText, MAX_ITEMS, MAX_REF_CHARS, type SubmitBatch } from '../contracts/http';
import { emptyCounts, workflowIdFor, type BatchOptions } from '../contracts/workflow';
import * as batches from '../db/batches';
import type { NewItem } from '../db/batches';
import { countActiveBatches, lockTenantSubmissions } from '../db/limits';
import type { BatchRow, Database } from '../db/schema';
import { CallbackRefused, IdempotencyMismatch, TooManyActiveBatches, TooManyItems, validationFailed } from '../errors';
import { checkCallbackUrl } from '../net/ssrf';
import { slotsFor } from '../temporal/task-queues';
import { DEFAULT_WORKER_SLOTS, defaultChunking } from './chunking';
import type { JobDeps } from './deps';
import { newBatchId } from './ids';
import { startOutcome } from './start-outcome';
import { Problems, tooLarge, unstorable, type Problem } from './submit-checks';
import { toBatchBody, type BatchBody } from './view';

export { MAX_JSON_FIELD_BYTES, MAX_NESTING, MAX_PROBLEMS, type Problem } from './submit-checks';
export type { NewItem };

/**
 * The options as the client gave them: `chunkSize` and `maxParallelChunks` may be left out, and
 * submit chooses them for the batch (src/batches/chunking.ts). Every other default is filled.
 */
export type RequestedOptions = Omit<BatchOptions, 'chunkSize' | 'maxParallelChunks'> &
  Partial<Pick<BatchOptions, 'chunkSize' | 'maxParallelChunks'>>;

export interface Submission {
  options: RequestedOptions;
  callbackUrl: string | null;
  metadata: Record<string, unknown>;
  items: NewItem[];
}

/** What identifies a request for Idempotency-Key checks: a digest of its body (JSON or file, plus options). */
export const hashRequest = (raw: unknown): string =>
  createHash('sha256')
    .update(typeof raw === 'string' ? raw : JSON.stringify(raw))
    .digest('hex');

/** How a submission arrived: its body's digest and, when given, its Idempotency-Key. */
export interface SubmitRequest {
  requestHash: string;
  idempotencyKey?: string;
  /** The calling key's batch limits; absent (internal callers) means none are checked. */
  limits?: Pick<KeyLimits, 'maxItems' | 'maxActiveBatches'>;
}

export interface Submitted {
  body: BatchBody & { poll_url: string; events_url: string; estimated_seconds: number };
  replayed: boolean;
}

/** Rough throughput used for `estimated_seconds` before a batch has a rate of its own. */
const ESTIMATED_ITEMS_PER_SECOND = 200;

/**
 * The most items a batch of this key may hold. A file upload stops reading at one more (it is
 * refused there, without reading the rest); submit refuses any larger batch.
 */
export const itemLimitOf = (limits: Pick<KeyLimits, 'maxItems'> | undefined): number => limits?.maxItems ?? MAX_ITEMS;

/** toSubmission, refusing with the contract's 400 naming every problem. */
export function checkedSubmission(body: SubmitBatch): Submission {
  const submission = toSubmission(body);
  if (!submission.ok) throw validationFailed(submission.problems);
  return submission.value;
}

export function toSubmission(body: SubmitBatch): { ok: true; value: Submission } | { ok: false; problems: Problem[] } {
  const fromText = body.items === undefined;
  let split: { refs: string[]; more: boolean } = { refs: [], more: false };
  if (fromText) {
    split = refsFromText(body.items_text ?? '', MAX_ITEMS);
    if (split.more) return { ok: false, problems: [{ path: 'items_text', issue: `holds more than ${MAX_ITEMS} refs` }] };
  }
  const items: NewItem[] = fromText
    ? split.refs.map((ref) => ({ ref, text: ref, content: null, contentType: null, attributes: null }))
    : body.items!.map((item) => ({
        ref: item.ref,
        text: item.text ?? null,
        content: item.content ?? null,
        contentType: item.content_type ?? null,
        attributes: item.attributes ?? null,
      }));

  const problems = new Problems();
  const field = fromText ? 'items_text' : 'items';
  if (items.length === 0) problems.add({ path: 'items_text', issue: 'contains no refs' });
  const firstSeen = new Map<string, number>();
  items.forEach((item, i) => {
    if (fromText && item.ref.length > MAX_REF_CHARS) {
      problems.add({ path: `items_text.${i}`, issue: `ref longer than ${MAX_REF_CHARS} characters` });
    }
    const first = firstSeen.get(item.ref);
    if (first === undefined) firstSeen.set(item.ref, i);
    else
      problems.add({
        path: fromText ? `items_text.${i}` : `items.${i}.ref`,
        issue: `duplicate ref "${item.ref}" (first at ${field}.${first})`,
      });
  });
  if (!problems.any) {
    items.forEach((item, i) => {
      const at = fromText ? `items_text.${i}` : `items.${i}`;
      for (const [name, value] of [
        ['ref', item.ref],
        ['text', item.text],
        ['content_type', item.contentType],
        ['attributes', item.attributes],
      ] as const) {
        const problem = unstorable(value, fromText ? at : `${at}.${name}`);
        if (problem) problems.add(problem);
      }
      // Checked after unstorable: a value nested too deep never reaches JSON.stringify.
      const large = problems.any ? undefined : tooLarge(item.attributes, `${at}.attributes`);
      if (large) problems.add(large);
    });
    const problem = unstorable(body.metadata, 'metadata') ?? tooLarge(body.metadata, 'metadata');
    if (problem) problems.add(problem);
  }
  if (problems.any) return { ok: false, problems: problems.done() };

  return {
    ok: true,
    value: {
      options: {
        stages: body.stages,
        chunkSize: body.chunk_size,
        maxParallelChunks: body.max_parallel_chunks,
        priority: body.priority,
        onCancel: body.on_cancel,
        maxFailureRatio: body.max_failure_ratio,
      },
      callbackUrl: body.callback_url ?? null,
      metadata: body.metadata,
      items,
    },
  };
}

export function createSubmit(deps: JobDeps) {
  const { db, log, starter, ui } = deps;

  /** The options the batch runs with: what the client gave, and the chunking chosen for what it left out. */
  function optionsOf(submission: Submission): BatchOptions {
    const { options, items } = submission;
    const { chunkSize, maxParallelChunks } = options;
    const slots = slotsFor(options.priority, deps.workerSlots ?? DEFAULT_WORKER_SLOTS);
    return { ...options, ...defaultChunking(items.length, slots, { chunkSize, maxParallelChunks }) };
  }

  function submittedBody(row: BatchRow, replayed: boolean): Submitted {
    return {
      replayed,
      body: {
        ...toBatchBody(row, null, ui),
        poll_url: `/v1/batches/${row.id}`,
        events_url: `/v1/batches/${row.id}/events`,
        estimated_seconds: Math.max(1, Math.ceil(row.total_items / ESTIMATED_ITEMS_PER_SECOND)),
      },
    };
  }

  async function replayIdempotent(tenantId: string, key: string, hash: string): Promise<Submitted | undefined> {
    const existing = await batches.findByIdempotencyKey(db, tenantId, key);
    if (!existing) return undefined;
    if (existing.request_hash !== hash) throw new IdempotencyMismatch();
    return submittedBody(existing, true);
  }

  return {
    /**
     * Creates the batch's rows in one transaction, then starts its workflow. A start Temporal
     * refused for certain deletes the rows again, so that submission leaves nothing (503). A start
     * whose answer is unknown (a timeout, a dropped connection) keeps them: the batch is accepted
     * `queued` and the reconcile loop starts it, or finds it started. (Should this process die
     * between the two, the loop starts the workflow too: the id is derived from the batch.)
     */
    async submit(tenantId: string, submission: Submission, request: SubmitRequest): Promise<Submitted> {
      const { requestHash: hash, idempotencyKey, limits } = request;
      if (idempotencyKey) {
        const replay = await replayIdempotent(tenantId, idempotencyKey, hash);
        if (replay) return replay;
      }
      if (limits && submission.items.length > itemLimitOf(limits)) throw new TooManyItems(itemLimitOf(limits));
      // Checked before anything is written. A host that does not resolve now is let through: every
      // delivery checks its addresses again before it connects.
      if (submission.callbackUrl && !deps.allowPrivateCallbacks) {
        const check = await checkCallbackUrl(submission.callbackUrl, { allowPrivate: false });
        if (!check.ok && !check.retryable) throw new CallbackRefused(check.reason);
      }
      const id = newBatchId();
      const options = optionsOf(submission);
      const row = {
        id,
        tenant_id: tenantId,
        status: 'queued' as const,
        priority: options.priority,
        options: JSON.stringify(options),
        metadata: JSON.stringify(submission.metadata),
        callback_url: submission.callbackUrl,
        total_items: submission.items.length,
        counts: JSON.stringify(emptyCounts(submission.items.length)),
        error: null,
        idempotency_key: idempotencyKey ?? null,
        request_hash: idempotencyKey ? hash : null,
        workflow_id: workflowIdFor(id),
      };
      // The active-batch limit is counted under a per-tenant lock inside the insert's transaction,
      // so parallel submissions cannot all see room. A replay is looked for first, under the same
      // lock: repeating an accepted request is never refused for the limit it helped reach.
      const earlier: { row?: BatchRow } = {};
      const guard = limits
        ? async (tx: Transaction<Database>): Promise<boolean> => {
            await lockTenantSubmissions(tx, tenantId);
            if (idempotencyKey) earlier.row = await batches.findByIdempotencyKey(tx, tenantId, idempotencyKey);
            if (earlier.row) return false;
            if ((await countActiveBatches(tx, tenantId)) >= limits.maxActiveBatches)
              throw new TooManyActiveBatches(limits.maxActiveBatches);
            return true;
          }
        : undefined;
      try {
        await batches.insertBatch(db, row, submission.items, guard);
      } catch (err) {
        // Two requests with one key at the same moment: the unique constraint lets one win.
        if (idempotencyKey && (err as { code?: string }).code === '23505') {
          const replay = await replayIdempotent(tenantId, idempotencyKey, hash);
          if (replay) return replay;
        }
        throw err;
      }
      if (earlier.row) {
        if (earlier.row.request_hash !== hash) throw new IdempotencyMismatch();
        return submittedBody(earlier.row, true);
      }
      try {
        // No deadline of ours: the SDK's own retries end an unreachable Temporal with "no connection"
        // (a certain refusal, so 503); a deadline would end it as a timeout, whose outcome is unknown.
        await starter.start({ ...row, options });
      } catch (err) {
        const outcome = startOutcome(err);
        if (outcome === 'refused') {
          log.error({ err, batchId: id }, 'Temporal refused the batch workflow; removing its rows');
          await batches.deleteBatch(db, id);
          throw await starter.unavailable();
        }
        // 'started': an earlier attempt of this very start landed. 'unknown': it may have.
        if (outcome === 'unknown')
          log.warn({ err, batchId: id }, 'the workflow start went unanswered; the batch stays queued for the reconcile loop');
      }
      const created = await batches.getBatchById(db, id);
      return submittedBody(created!, false);
    },
  };
}
