/**
 * Turns a validated submission into the batch's options and its items, and finds what the schema
 * alone cannot: refs that appear twice.
 */
import type { SubmitBatch } from '../contracts/http';
import { refsFromText, MAX_REF_CHARS } from '../contracts/http';
import type { BatchOptions } from '../contracts/workflow';

export interface NewItem {
  ref: string;
  text: string | null;
  content: string | null;
  contentType: string | null;
  attributes: Record<string, unknown> | null;
}

export interface Problem {
  path: string;
  issue: string;
}

export interface Submission {
  options: BatchOptions;
  callbackUrl: string | null;
  metadata: Record<string, unknown>;
  items: NewItem[];
}

export function toSubmission(body: SubmitBatch): { ok: true; value: Submission } | { ok: false; problems: Problem[] } {
  const fromText = body.items === undefined;
  const items: NewItem[] = fromText
    ? refsFromText(body.items_text ?? '').map((ref) => ({ ref, text: ref, content: null, contentType: null, attributes: null }))
    : body.items!.map((item) => ({
        ref: item.ref,
        text: item.text ?? null,
        content: item.content ?? null,
        contentType: item.content_type ?? null,
        attributes: item.attributes ?? null,
      }));

  const problems: Problem[] = [];
  const field = fromText ? 'items_text' : 'items';
  if (items.length === 0) problems.push({ path: 'items_text', issue: 'contains no refs' });
  const firstSeen = new Map<string, number>();
  items.forEach((item, i) => {
    if (fromText && item.ref.length > MAX_REF_CHARS) {
      problems.push({ path: `items_text.${i}`, issue: `ref longer than ${MAX_REF_CHARS} characters` });
    }
    const first = firstSeen.get(item.ref);
    if (first === undefined) firstSeen.set(item.ref, i);
    else problems.push({ path: fromText ? `items_text.${i}` : `items.${i}.ref`, issue: `duplicate ref "${item.ref}" (first at ${field}.${first})` });
  });
  if (problems.length > 0) return { ok: false, problems };

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
