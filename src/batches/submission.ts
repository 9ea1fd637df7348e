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
  if (problems.length === 0) {
    items.forEach((item, i) => {
      const at = fromText ? `items_text.${i}` : `items.${i}`;
      for (const [name, value] of [['ref', item.ref], ['text', item.text], ['content_type', item.contentType], ['attributes', item.attributes]] as const) {
        const problem = unstorable(value, fromText ? at : `${at}.${name}`);
        if (problem) problems.push(problem);
      }
    });
    const problem = unstorable(body.metadata, 'metadata');
    if (problem) problems.push(problem);
  }
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

/** A UTF-16 code unit of a surrogate pair standing alone: it has no UTF-8 form. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * How deep attributes and metadata may nest. Deeper values are refused: they serve no catalog, and
 * the recursive work on them (this check, JSON.stringify, PostgreSQL's jsonb parser) would
 * overflow a stack well before the body limit is reached.
 */
export const MAX_NESTING = 64;

/**
 * Why a value cannot be stored as sent, if it cannot: PostgreSQL's text and jsonb hold no NUL
 * character, and jsonb refuses a lone surrogate (`"\ud800"`), which text would silently turn into
 * U+FFFD. Both are refused here, naming the path, rather than failing the insert (a 5xx) or
 * storing something other than what the client sent. Walks objects and arrays, keys included.
 */
function unstorable(value: unknown, path: string, depth = 0): Problem | undefined {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return { path, issue: 'must not contain the NUL character (\\u0000)' };
    if (LONE_SURROGATE.test(value)) return { path, issue: 'must be well-formed Unicode (it holds a lone surrogate)' };
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_NESTING) return { path, issue: `nests deeper than ${MAX_NESTING} levels` };
  for (const [key, inner] of Object.entries(value)) {
    const problem = unstorable(key, path) ?? unstorable(inner, `${path}.${key}`, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}
