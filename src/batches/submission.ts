/**
 * Turns a validated submission into the batch's options and its items, and finds what the schema
 * alone cannot: refs that appear twice, text with more refs than a batch holds, attributes or
 * metadata too large to copy into every answer, and values PostgreSQL cannot store.
 */
import type { SubmitBatch } from '../contracts/http';
import { refsFromText, MAX_ITEMS, MAX_REF_CHARS } from '../contracts/http';
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

/**
 * The most a batch's `metadata` or an item's `attributes` may take, serialized: they are copied
 * into every list page, batch body and live event, so they must stay small.
 */
export const MAX_JSON_FIELD_BYTES = 16 * 1024;

/** Problems a refusal lists; past it one more says how many were left out (the contract's `details` bound). */
export const MAX_PROBLEMS = 100;

/** Collects problems up to MAX_PROBLEMS, and only counts the rest: a refusal costs what it lists. */
class Problems {
  readonly list: Problem[] = [];
  private omitted = 0;
  add(p: Problem): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(p);
    else this.omitted++;
  }
  get any(): boolean {
    return this.list.length > 0;
  }
  done(): Problem[] {
    return this.omitted > 0 ? [...this.list, { path: '', issue: `${this.omitted} more problems left out` }] : this.list;
  }
}

/** Why a JSON field is too large to keep, if it is. */
function tooLarge(value: Record<string, unknown> | null | undefined, path: string): Problem | undefined {
  if (!value) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  return bytes > MAX_JSON_FIELD_BYTES ? { path, issue: `is ${bytes} bytes serialized; at most ${MAX_JSON_FIELD_BYTES} (16 KiB)` } : undefined;
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
    else problems.add({ path: fromText ? `items_text.${i}` : `items.${i}.ref`, issue: `duplicate ref "${item.ref}" (first at ${field}.${first})` });
  });
  if (!problems.any) {
    items.forEach((item, i) => {
      const at = fromText ? `items_text.${i}` : `items.${i}`;
      for (const [name, value] of [['ref', item.ref], ['text', item.text], ['content_type', item.contentType], ['attributes', item.attributes]] as const) {
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
