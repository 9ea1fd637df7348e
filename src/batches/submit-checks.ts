/**
 * What the submission's checks find beyond the schema (src/batches/submit.ts, toSubmission): values
 * PostgreSQL cannot store, JSON fields too large to copy into every answer, and a bounded list of
 * the problems found.
 */
import type { ErrorDetail } from '../errors';

/** A failing path and what is wrong there (the contract's `details` entry). */
export type Problem = ErrorDetail;

/**
 * The most a batch's `metadata` or an item's `attributes` may take, serialized: they are copied
 * into every list page, batch body and live event, so they must stay small.
 */
export const MAX_JSON_FIELD_BYTES = 16 * 1024;

/** Problems a refusal lists; past it one more says how many were left out (the contract's `details` bound). */
export const MAX_PROBLEMS = 100;

/** Collects problems up to MAX_PROBLEMS, and only counts the rest: a refusal costs what it lists. */
export class Problems {
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
export function tooLarge(value: Record<string, unknown> | null | undefined, path: string): Problem | undefined {
  if (!value) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  return bytes > MAX_JSON_FIELD_BYTES
    ? { path, issue: `is ${bytes} bytes serialized; at most ${MAX_JSON_FIELD_BYTES} (16 KiB)` }
    : undefined;
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
export function unstorable(value: unknown, path: string, depth = 0): Problem | undefined {
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
