/**
 * fast-check generators for the bad-input properties: valid submissions in each form the contract
 * takes (JSON, CSV, NDJSON, the compatibility bodies), and hostile variations of them.
 */
import fc from 'fast-check';

const STAGES = ['classify', 'ingest', 'publish'] as const;
const ITEM_COLUMNS = new Set(['ref', 'text', 'content', 'content_type']);

/**
 * Any Unicode text without NUL: a well-formed string PostgreSQL can store as sent. 'binary' counts
 * code points (up to two UTF-16 units each), so `max` code points stay within 2·max characters.
 */
export const storable = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'binary', minLength: min, maxLength: max }).filter((s) => !s.includes('\u0000'));

/** Strings a client should never send but might: NUL, lone surrogates, injection-looking text, huge ones. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udc00',
    '\ufeff',
    '\u202eevil',
    "'; DROP TABLE batches; --",
    '" OR 1=1 --',
    '../../etc/passwd',
    '..\\..\\windows\\win.ini',
    '%00',
    '${jndi:ldap://x}',
    '<script>alert(1)</script>',
    '=cmd|"/c calc"!A1',
    'x'.repeat(201),
    'y'.repeat(100_001),
  ),
);

/** Any value at all, hostile strings included. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  hostileString,
  fc.constantFrom(-1, 0, 0.5, 1, 1.5, 2 ** 53, -(2 ** 31), 1e308, null, true, [], {}),
);

const metadata = fc.dictionary(storable(1, 12), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });

/** An optional field's value, or now and then `null`: the contract's "no value", the same as left out. */
const orNull = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(a, { nil: null, freq: 6 });
const base64 = (minLength = 0): fc.Arbitrary<string> =>
  fc.uint8Array({ minLength, maxLength: 48 }).map((b) => Buffer.from(b).toString('base64'));

export interface ValidItem {
  ref: string;
  text?: string | null;
  content?: string | null;
  content_type?: string | null;
  attributes?: Record<string, unknown> | null;
}

const item: fc.Arbitrary<ValidItem> = fc
  .record(
    {
      ref: storable(1, 100),
      text: orNull(storable(0, 120)),
      content: orNull(base64()),
      content_type: orNull(fc.constantFrom('application/pdf', 'text/plain', 'image/png')),
      attributes: orNull(metadata),
    },
    { requiredKeys: ['ref'] },
  )
  .filter((i) => (i.text ?? undefined) !== undefined || (i.content ?? undefined) !== undefined);

/** Options of a submission: every field optional (left out, or null), every value in range. */
export const options = fc.record(
  {
    stages: orNull(fc.subarray([...STAGES], { minLength: 1 })),
    chunk_size: orNull(fc.integer({ min: 1, max: 500 })),
    max_parallel_chunks: orNull(fc.integer({ min: 1, max: 64 })),
    priority: orNull(fc.constantFrom('normal', 'express')),
    on_cancel: orNull(fc.constantFrom('keep', 'rollback')),
    max_failure_ratio: orNull(fc.double({ min: 0, max: 1, noNaN: true })),
    metadata: orNull(metadata),
    callback_url: fc.constant(null),
  },
  { requiredKeys: [] },
);

const items = fc.uniqueArray(item, { minLength: 1, maxLength: 12, selector: (i) => i.ref });

/** Part-number style refs: no separators, trimmed, unique after trimming. */
/** Part numbers unique as the part-number design's search compares them: trimmed and upper-cased. */
const partRefs = fc.uniqueArray(
  storable(1, 30)
    .map((s) => s.replace(/[\n\r,;\t]/g, '').trim())
    .filter((s) => s.length > 0),
  { minLength: 1, maxLength: 12, selector: (s) => s.toUpperCase() },
);

/** A submission the contract accepts, and how many items it holds. */
export const validSubmission: fc.Arbitrary<{ body: Record<string, unknown>; total: number }> = fc.oneof(
  fc
    .tuple(options, items, fc.boolean())
    .map(([o, i, nulled]) => ({ body: { ...o, items: i, ...(nulled ? { items_text: null } : {}) }, total: i.length })),
  fc.tuple(options, partRefs, fc.constantFrom('\n', ',', ';', '\t', '\r\n', ' ,\n '), fc.boolean()).map(([o, refs, sep, nulled]) => ({
    body: { ...o, items_text: refs.join(sep), ...(nulled ? { items: null } : {}) },
    total: refs.length,
  })),
);

const SUBMISSION_PATHS = [
  'items',
  'items.0',
  'items.0.ref',
  'items.0.text',
  'items.0.content',
  'items.0.content_type',
  'items.0.attributes',
  'items.0.extra',
  'items_text',
  'stages',
  'chunk_size',
  'max_parallel_chunks',
  'priority',
  'on_cancel',
  'max_failure_ratio',
  'metadata',
  'metadata.k',
  'callback_url',
  'colour',
];

/** Sets `path` (dot-separated) in a copy of `value`, creating objects on the way. */
export function setPath(value: unknown, path: string, v: unknown): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  const keys = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const k of keys.slice(0, -1)) {
    if (typeof at[k] !== 'object' || at[k] === null) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys.at(-1)!] = v;
  return copy;
}

/** A valid body with one field (or 1..3 fields) replaced by anything. */
export const mutated = (valid: fc.Arbitrary<unknown>, paths: string[]): fc.Arbitrary<unknown> =>
  fc
    .tuple(valid, fc.array(fc.tuple(fc.constantFrom(...paths), hostileValue), { minLength: 1, maxLength: 3 }))
    .map(([body, changes]) => changes.reduce((b, [path, v]) => setPath(b, path, v), body));

export const hostileSubmission: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: mutated(
      validSubmission.map((s) => s.body),
      SUBMISSION_PATHS,
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom(...SUBMISSION_PATHS.filter((p) => !p.includes('.'))), hostileValue) },
);

/** Text that is not quite JSON: truncated or spliced submissions, random text, random bytes. */
export const brokenJson: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc
    .tuple(
      validSubmission.map((s) => JSON.stringify(s.body)),
      fc.nat(),
      fc.string({ maxLength: 3 }),
    )
    .map(([json, at, splice]) => json.slice(0, at % (json.length + 1)) + splice),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.uint8Array({ maxLength: 60 }),
  fc.constantFrom(
    '{',
    '[',
    '{"items": [',
    '{"items":[{"ref":"a","text":"b"}]}}',
    'null',
    'true',
    '1e999',
    '"\\ud800"',
    '{"a":1,}',
    "{'items': []}",
    '\ufeff{"items_text":"a"}',
    'NaN',
  ),
);

// --- files ------------------------------------------------------------------------------------

const quote = (cell: string): string => `"${cell.replace(/"/g, '""')}"`;

/** The query string of a file submission with these options; a null option is left out, as clients do. */
export function optionsQuery(o: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) {
    if (v === null) continue;
    q.set(k, k === 'metadata' ? JSON.stringify(v) : Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const attributeColumns = fc.uniqueArray(
  fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).filter((c) => !ITEM_COLUMNS.has(c)),
  { maxLength: 3 },
);

/** A CSV file the contract accepts: header `ref,text,<attributes>`, every cell quoted. */
export const validCsv: fc.Arbitrary<{ csv: string; query: string; total: number }> = fc
  .tuple(options, attributeColumns, fc.constantFrom('\n', '\r\n'), fc.boolean())
  .chain(([o, columns, eol, bom]) =>
    fc
      .uniqueArray(
        fc.tuple(storable(1, 60), storable(1, 80), fc.array(storable(0, 20), { minLength: columns.length, maxLength: columns.length })),
        {
          minLength: 1,
          maxLength: 12,
          selector: ([ref]) => ref,
        },
      )
      .map((rows) => ({
        csv:
          (bom ? '\ufeff' : '') +
          [['ref', 'text', ...columns].join(','), ...rows.map(([ref, text, cells]) => [ref, text, ...cells].map(quote).join(','))].join(
            eol,
          ) +
          eol,
        query: optionsQuery(o),
        total: rows.length,
      })),
  );

/** An NDJSON file the contract accepts: one item a line. */
export const validNdjson: fc.Arbitrary<{ ndjson: string; query: string; total: number }> = fc
  .tuple(options, items, fc.constantFrom('\n', '\r\n'), fc.boolean())
  .map(([o, list, eol, trailing]) => ({
    ndjson: list.map((i) => JSON.stringify(i)).join(eol) + (trailing ? eol : ''),
    query: optionsQuery(o),
    total: list.length,
  }));

const QUERY_KEYS = [
  'stages',
  'chunk_size',
  'max_parallel_chunks',
  'priority',
  'callback_url',
  'on_cancel',
  'max_failure_ratio',
  'metadata',
  'limit',
  'cursor',
  'status',
  'offset',
  'stale',
  'bogus',
];

/** A query string of known and unknown keys with hostile values (some repeated, some empty). */
export const hostileQuery: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom(...QUERY_KEYS),
      fc.oneof(hostileString, fc.integer().map(String), fc.constantFrom('0', '-1', '1e3', '1.5', 'NaN', 'true', '{}', '[1]', '%zz')),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => {
    const q = new URLSearchParams();
    for (const [k, v] of pairs) q.append(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
  });

const csvToken = fc.constantFrom(
  'ref',
  'text',
  'content',
  'content_type',
  'a',
  'é',
  '😀',
  ',',
  ',',
  '"',
  '""',
  '\n',
  '\r\n',
  '\r',
  ' ',
  '\t',
  '\u0000',
  '\ufeff',
  '\ud800',
  'QUJD',
  '=1+1',
  'x'.repeat(300),
);

/** CSV-looking text: sometimes a proper header, then tokens that break quoting, widths and encodings. */
export const hostileCsv: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('', 'ref,text\n', 'ref,text,ref\n', 'text\n', 'ref,,x\n', 'ref\n'), fc.array(csvToken, { maxLength: 40 }))
  .map(([head, tokens]) => head + tokens.join(''));

/** NDJSON-looking text: lines of items, near-items, other JSON and garbage. */
export const hostileNdjson: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      mutated(item, ['ref', 'text', 'content', 'content_type', 'attributes', 'extra']).map((v) => JSON.stringify(v) ?? 'undefined'),
      item.map((i) => JSON.stringify(i)),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      hostileString,
    ),
    { maxLength: 8 },
  )
  .chain((lines) => fc.constantFrom('\n', '\r\n', '\r').map((eol) => lines.join(eol)));

// --- compatibility routes ------------------------------------------------------------------------

const product = fc.record(
  { product_id: storable(1, 100), description: storable(1, 120), origin_country: storable(1, 30), image_url: storable(1, 80) },
  { requiredKeys: ['product_id', 'description'] },
);

export const validClassifyBulk = fc
  .tuple(
    fc.uniqueArray(product, { minLength: 1, maxLength: 10, selector: (p) => p.product_id }),
    fc.record({ priority: fc.constantFrom('low', 'normal', 'high', 'express'), corridor: storable(1, 30) }, { requiredKeys: [] }),
  )
  .map(([products, rest]) => ({ products, ...rest }));

const jobDocument = fc.record({ filename: storable(1, 100), content: base64(1), metadata }, { requiredKeys: ['filename', 'content'] });

export const validBatchJob = fc
  .tuple(
    fc.uniqueArray(jobDocument, { minLength: 1, maxLength: 10, selector: (d) => d.filename }),
    fc.record({ collection: storable(1, 60), priority: fc.integer({ min: 1, max: 10 }) }, { requiredKeys: [] }),
  )
  .map(([documents, rest]) => ({ documents, ...rest }));

export const validBulkParts = fc.oneof(
  partRefs.map((part_numbers) => ({ part_numbers })),
  fc.tuple(partRefs, fc.constantFrom('\n', ',', ';', '\r\n')).map(([refs, sep]) => ({ part_numbers_text: refs.join(sep) })),
);

export const COMPAT_ROUTES = [
  // `accepted`: the status of a new batch. The classify design does not say (202, as /v1); the
  // document and part-number designs are FastAPI routes, which answer 200.
  {
    path: '/api/v1/classify/bulk',
    accepted: 202,
    valid: validClassifyBulk,
    paths: [
      'products',
      'products.0',
      'products.0.product_id',
      'products.0.description',
      'products.0.origin_country',
      'products.0.image_url',
      'priority',
      'corridor',
      'callback_url',
      'extra',
    ],
  },
  {
    path: '/batch/jobs',
    accepted: 200,
    valid: validBatchJob,
    paths: [
      'documents',
      'documents.0',
      'documents.0.filename',
      'documents.0.content',
      'documents.0.metadata',
      'documents.0.metadata.content_type',
      'collection',
      'priority',
      'tenant_id',
    ],
  },
  {
    path: '/api/bulk-search',
    accepted: 200,
    valid: validBulkParts,
    paths: ['part_numbers', 'part_numbers.0', 'part_numbers_text', 'idempotency_key', 'extra'],
  },
  {
    path: '/api/bulk-publish',
    accepted: 200,
    valid: validBulkParts,
    paths: ['part_numbers', 'part_numbers.0', 'part_numbers_text', 'idempotency_key'],
  },
] as const;
