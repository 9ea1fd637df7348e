/**
 * Hand-written malformed and hostile requests, each with its name and the answer it must get.
 * `status` 0 means "the server closed the connection without answering", which only a raw
 * request can see. The runner is corpus.test.ts.
 */
import { MAX_BODY, REQUEST_TIMEOUT_MS } from './harness';

export interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** Bytes written to a fresh connection, `gapMs` apart; `key` is the stack's API key. */
export interface Raw {
  raw: (key: string) => Array<string | Buffer>;
  gapMs?: number;
}

export interface CorpusCase {
  name: string;
  /** Requests sent first, answers not checked beyond check.ts (e.g. the first use of an Idempotency-Key). */
  first?: Req[];
  send: Req | Raw;
  /** The statuses allowed (0: closed without an answer). */
  status: number | number[];
  /** The error code a 4xx must carry. */
  code?: string;
  /** The items the accepted batch holds. */
  items?: number;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = JSON_TYPE): Req => ({
  method: 'POST',
  path,
  headers,
  body,
});
const submit = (body: unknown, headers?: Record<string, string>): Req =>
  post('/v1/batches', JSON.stringify(body), { ...JSON_TYPE, ...headers });
const one = (item: Record<string, unknown>): Req => submit({ items: [{ ref: 'a', text: 'cotton shirt', ...item }] });
const nested = (depth: number, leaf: unknown = 1): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};
/** JSON text nested `depth` objects deep: built as text, since JSON.stringify itself overflows past a few thousand. */
const deepJson = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const lines = (...l: string[]): string => l.join('\r\n');

/** A raw HTTP/1.1 request: request line and headers as given (ending with '', the blank line), then the body. */
const raw = (head: string[], body = ''): Raw => ({ raw: (key) => [lines(...head.map((h) => h.replace('{key}', key))) + '\r\n' + body] });

export const CORPUS: CorpusCase[] = [
  // --- broken JSON ------------------------------------------------------------------------------
  { name: 'truncated JSON', send: post('/v1/batches', '{"items": ['), status: 400, code: 'malformed_json' },
  { name: 'trailing comma', send: post('/v1/batches', '{"items_text": "a",}'), status: 400, code: 'malformed_json' },
  { name: 'single-quoted JSON', send: post('/v1/batches', "{'items_text': 'a'}"), status: 400, code: 'malformed_json' },
  { name: 'NaN literal', send: post('/v1/batches', '{"items_text": "a", "max_failure_ratio": NaN}'), status: 400, code: 'malformed_json' },
  {
    name: 'a byte-order mark before the JSON (dropped, as the body is read)',
    send: post('/v1/batches', '\ufeff{"items_text": "a"}'),
    status: 202,
    items: 1,
  },
  { name: 'JSON null', send: post('/v1/batches', 'null'), status: 400, code: 'validation_failed' },
  { name: 'a JSON array', send: post('/v1/batches', '[{"ref":"a","text":"b"}]'), status: 400, code: 'validation_failed' },
  {
    name: 'a number out of double range',
    send: post('/v1/batches', '{"items_text": "a", "chunk_size": 1e999}'),
    status: 400,
    code: 'validation_failed',
  },
  { name: 'a JSON body of only whitespace', send: post('/v1/batches', '   \n  '), status: 400, code: 'validation_failed' },
  {
    name: 'duplicate JSON keys (the last wins, as JSON.parse reads it)',
    send: post('/v1/batches', '{"items_text": "a", "items_text": "b,c"}'),
    status: 202,
    items: 2,
  },
  {
    name: 'JSON with invalid UTF-8 bytes (read as U+FFFD)',
    send: post('/v1/batches', Buffer.concat([Buffer.from('{"items_text": "x'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])),
    status: 202,
    items: 1,
  },

  // --- deep nesting -----------------------------------------------------------------------------
  {
    name: 'metadata nested 100 levels deep',
    send: submit({ items_text: 'a', metadata: nested(100) }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an attribute nested 20,000 levels deep',
    send: post('/v1/batches', `{"items":[{"ref":"a","text":"b","attributes":{"x":${deepJson(20_000)}}}]}`),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a top-level array nested 100,000 levels deep',
    send: post('/v1/batches', '['.repeat(100_000) + ']'.repeat(100_000)),
    status: 400,
  },
  {
    name: 'documents metadata nested 20,000 levels deep (/batch/jobs)',
    send: post('/batch/jobs', `{"documents":[{"filename":"a.pdf","content":"QUJD","metadata":${deepJson(20_000)}}]}`),
    status: 400,
    code: 'validation_failed',
  },
  // Unknown fields are ignored on the compatibility routes (as Flask and Pydantic do), however deep: never hashed as sent.
  {
    name: 'an unknown field nested 20,000 levels deep (/api/v1/classify/bulk) is ignored',
    send: post(
      '/api/v1/classify/bulk',
      `{"products":[{"product_id":"p","description":"wooden dining chair"}],"extra":${deepJson(20_000)}}`,
    ),
    status: 202,
  },
  {
    name: 'an unknown field nested 20,000 levels deep (/api/bulk-search) is ignored',
    send: post('/api/bulk-search', `{"part_numbers":["PN-DEEP"],"extra":${deepJson(20_000)}}`),
    status: 200,
  },
  { name: 'metadata nested 32 levels deep is fine', send: submit({ items_text: 'a', metadata: nested(32) }), status: 202, items: 1 },

  // --- huge strings and bodies ------------------------------------------------------------------
  { name: 'text of 100,001 characters', send: one({ text: 'x'.repeat(100_001) }), status: 400, code: 'validation_failed' },
  { name: 'text of exactly 100,000 characters', send: one({ text: 'x'.repeat(100_000) }), status: 202, items: 1 },
  { name: 'a ref of 201 characters', send: one({ ref: 'r'.repeat(201) }), status: 400, code: 'validation_failed' },
  {
    name: 'an items_text ref of 201 characters',
    send: submit({ items_text: `a,${'r'.repeat(201)}` }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a JSON body over the byte limit',
    send: submit({ items_text: 'a', metadata: { pad: 'p'.repeat(MAX_BODY) } }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'a CSV body over the byte limit',
    send: post('/v1/batches', `ref,text\n${'a,b\n'.repeat(MAX_BODY / 4 + 10)}`, { 'content-type': 'text/csv' }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'a chunked body over the byte limit (no Content-Length)',
    send: {
      raw: (key) => [
        lines(
          'POST /v1/batches HTTP/1.1',
          'Host: x',
          `X-Api-Key: ${key}`,
          'Content-Type: application/json',
          'Transfer-Encoding: chunked',
          'Connection: close',
          '',
          '',
        ),
        ...Array.from({ length: 40 }, () => `2000\r\n${'x'.repeat(0x2000)}\r\n`),
        '0\r\n\r\n',
      ],
    },
    status: [413, 0],
    code: 'payload_too_large',
  },
  {
    name: 'Content-Length far over the limit, no body sent',
    send: raw(
      [
        'POST /v1/batches HTTP/1.1',
        'Host: x',
        'X-Api-Key: {key}',
        'Content-Type: application/json',
        `Content-Length: ${MAX_BODY * 100}`,
        'Connection: close',
        '',
      ],
      '',
    ),
    status: 413,
    code: 'payload_too_large',
  },

  // --- base64 -----------------------------------------------------------------------------------
  { name: 'content that is not base64', send: one({ text: undefined, content: 'not base64!' }), status: 400, code: 'validation_failed' },
  { name: 'content of a length not a multiple of 4', send: one({ content: 'QUJD=' }), status: 400, code: 'validation_failed' },
  { name: 'content with a line break inside', send: one({ content: 'QUJD\nRA==' }), status: 400, code: 'validation_failed' },
  { name: 'content in the URL-safe alphabet', send: one({ content: '-_-_' }), status: 400, code: 'validation_failed' },
  { name: 'content with padding in the middle', send: one({ content: 'QQ==QUJD' }), status: 400, code: 'validation_failed' },
  {
    name: 'a /batch/jobs document that is not base64',
    send: post('/batch/jobs', JSON.stringify({ documents: [{ filename: 'a.pdf', content: '%%%%' }] })),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a CSV content cell that is not base64',
    send: post('/v1/batches', 'ref,content\na,@@@@\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },

  // --- content types ----------------------------------------------------------------------------
  {
    name: 'text/plain',
    send: post('/v1/batches', '{"items_text":"a"}', { 'content-type': 'text/plain' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'application/xml',
    send: post('/v1/batches', '<items><item ref="a"/></items>', { 'content-type': 'application/xml' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'multipart/form-data',
    send: post('/v1/batches', '--x\r\nContent-Disposition: form-data; name="f"\r\n\r\nref\r\n--x--\r\n', {
      'content-type': 'multipart/form-data; boundary=x',
    }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a body without a Content-Type',
    send: raw(
      ['POST /v1/batches HTTP/1.1', 'Host: x', 'X-Api-Key: {key}', 'Content-Length: 18', 'Connection: close', ''],
      '{"items_text":"a"}',
    ),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a CSV in UTF-16',
    send: post('/v1/batches', 'ref\na\n', { 'content-type': 'text/csv; charset=utf-16' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a CSV sent to a compatibility route',
    send: post('/api/bulk-search', 'ref\na\n', { 'content-type': 'text/csv' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'NDJSON sent to /batch/jobs',
    send: post('/batch/jobs', '{"filename":"a","content":"QUJD"}\n', { 'content-type': 'application/x-ndjson' }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a Content-Type that is not a media type',
    send: post('/v1/batches', '{"items_text":"a"}', { 'content-type': ';;;' }),
    status: 415,
    code: 'unsupported_media_type',
  },

  // --- header injection and broken HTTP (Node's parser; answered by src/api/server.ts) ----------
  {
    name: 'CR inside a header value',
    send: raw(['GET /v1/batches HTTP/1.1', 'Host: x', 'X-Api-Key: {key}\rInjected: 1', 'Connection: close', '']),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a bare LF splitting a header into two',
    send: {
      raw: (key) => [`GET /v1/batches HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${key}\r\nX-Note: a\nX-Injected: b\r\nConnection: close\r\n\r\n`],
    },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a NUL byte in a header value',
    send: raw(['GET /v1/batches HTTP/1.1', 'Host: x', 'X-Api-Key: {key}\u0000x', 'Connection: close', '']),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a space inside a header name',
    send: raw(['GET /v1/batches HTTP/1.1', 'Host: x', 'X Api Key: abc', 'Connection: close', '']),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a header of 64 KiB',
    send: raw(['GET /v1/batches HTTP/1.1', 'Host: x', `X-Big: ${'h'.repeat(64 * 1024)}`, 'Connection: close', '']),
    status: 431,
    code: 'payload_too_large',
  },
  {
    name: 'a thousand headers',
    send: raw([
      'GET /v1/batches HTTP/1.1',
      'Host: x',
      ...Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}`),
      'Connection: close',
      '',
    ]),
    status: 431,
    code: 'payload_too_large',
  },
  {
    name: 'an unknown HTTP version',
    send: raw(['GET /v1/batches HTTP/9.9', 'Host: x', 'Connection: close', '']),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a negative Content-Length',
    send: raw(['POST /v1/batches HTTP/1.1', 'Host: x', 'Content-Length: -1', 'Connection: close', '']),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'Content-Length and Transfer-Encoding both (request smuggling)',
    send: raw(
      [
        'POST /v1/batches HTTP/1.1',
        'Host: x',
        'X-Api-Key: {key}',
        'Content-Type: application/json',
        'Content-Length: 4',
        'Transfer-Encoding: chunked',
        'Connection: close',
        '',
      ],
      '0\r\n\r\n',
    ),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a chunk size that is not hex',
    send: raw(
      [
        'POST /v1/batches HTTP/1.1',
        'Host: x',
        'X-Api-Key: {key}',
        'Content-Type: application/json',
        'Transfer-Encoding: chunked',
        'Connection: close',
        '',
      ],
      'zz\r\n{}\r\n0\r\n\r\n',
    ),
    status: [400, 0],
  },
  {
    name: 'a non-ASCII Idempotency-Key (UTF-8 bytes in a header)',
    send: {
      raw: (key) => [
        Buffer.from(
          `POST /v1/batches HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${key}\r\nIdempotency-Key: ключ\r\nContent-Type: application/json\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{"items_text":"a"}`,
        ),
      ],
    },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an X-Request-Id that is not a sane token is replaced',
    send: { method: 'GET', path: '/v1/batches', headers: { 'x-request-id': '<script>alert(1)</script>' } },
    status: 200,
  },

  // --- slow bodies (the server's request timeout) -----------------------------------------------
  {
    name: `a body trickled slower than the ${REQUEST_TIMEOUT_MS / 1000} s request timeout`,
    send: {
      raw: (key) => [
        lines('POST /v1/batches HTTP/1.1', 'Host: x', `X-Api-Key: ${key}`, 'Content-Type: application/json', 'Content-Length: 18', '', ''),
        ...'{"items_text":"a"}'.split(''),
      ],
      gapMs: 400,
    },
    status: [408, 0],
    code: 'validation_failed',
  },
  {
    name: 'headers trickled slower than the request timeout',
    send: {
      raw: (key) => [
        'POST /v1/batches HTTP/1.1\r\n',
        'Host: x\r\n',
        `X-Api-Key: ${key}\r\n`,
        ...Array.from({ length: 12 }, (_, i) => `X-Slow-${i}: 1\r\n`),
        '\r\n',
      ],
      gapMs: 500,
    },
    status: [408, 0],
    code: 'validation_failed',
  },

  // --- SQL-like and path-like input -------------------------------------------------------------
  {
    name: 'SQL-like refs are stored as plain text',
    send: submit({
      items: [
        { ref: "'; DROP TABLE batches; --", text: 'x' },
        { ref: '" OR 1=1 --', text: 'y' },
        { ref: 'a\\', text: '\\x00' },
      ],
    }),
    status: 202,
    items: 3,
  },
  {
    name: 'path-like refs are stored as plain text',
    send: submit({ items_text: '../../etc/passwd\n..\\..\\win.ini\n%2e%2e%2f\n/dev/null' }),
    status: 202,
    items: 4,
  },
  {
    name: 'path-like filenames on /batch/jobs',
    send: post(
      '/batch/jobs',
      JSON.stringify({
        documents: [
          { filename: '../../../../tmp/evil', content: 'QUJD' },
          { filename: '/etc/passwd', content: 'QUJD' },
        ],
      }),
    ),
    status: 200,
  },
  { name: 'a path-like batch id', send: { method: 'GET', path: '/v1/batches/..%2F..%2Fetc%2Fpasswd' }, status: 404, code: 'not_found' },
  {
    name: 'an SQL-like batch id',
    send: { method: 'GET', path: `/v1/batches/${encodeURIComponent("' OR '1'='1")}/items` },
    status: 404,
    code: 'not_found',
  },
  {
    name: 'a cursor holding an invalid date',
    send: {
      method: 'GET',
      path: `/v1/batches?cursor=${Buffer.from(JSON.stringify({ t: 'not a date', id: 'b_x' })).toString('base64url')}`,
    },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a review cursor holding an integer past int4',
    send: { method: 'GET', path: `/v1/review?cursor=${Buffer.from('{"b":"b_x","s":99999999999}').toString('base64url')}` },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an SQL-like cursor',
    send: { method: 'GET', path: `/v1/batches?cursor=${encodeURIComponent("' OR 1=1 --")}` },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an SQL-like status filter on /api/batches',
    send: { method: 'GET', path: `/api/batches?status=${encodeURIComponent("queued' OR 'a'='a")}` },
    status: 400,
    code: 'validation_failed',
  },

  // --- NUL and lone surrogates (PostgreSQL stores neither) --------------------------------------
  { name: 'NUL in an item text', send: one({ text: 'cotton\u0000shirt' }), status: 400, code: 'validation_failed' },
  { name: 'NUL in a ref', send: one({ ref: 'a\u0000' }), status: 400, code: 'validation_failed' },
  {
    name: 'NUL in a metadata value',
    send: submit({ items_text: 'a', metadata: { note: '\u0000' } }),
    status: 400,
    code: 'validation_failed',
  },
  { name: 'NUL in a metadata key', send: submit({ items_text: 'a', metadata: { 'k\u0000': 1 } }), status: 400, code: 'validation_failed' },
  {
    name: 'NUL in an attribute nested in an array',
    send: one({ attributes: { list: ['ok', { deep: 'x\u0000' }] } }),
    status: 400,
    code: 'validation_failed',
  },
  { name: 'NUL in items_text', send: submit({ items_text: 'a\u0000b,c' }), status: 400, code: 'validation_failed' },
  {
    name: 'NUL in a content_type',
    send: one({ content: 'QUJD', content_type: 'text/plain\u0000' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a NUL byte in a CSV cell',
    send: post('/v1/batches', 'ref,text,colour\na,b,r\u0000ed\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an escaped NUL in an NDJSON line',
    send: post('/v1/batches', '{"ref":"a","text":"x\\u0000y"}\n', { 'content-type': 'application/x-ndjson' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'NUL in a product description (/api/v1/classify/bulk)',
    send: post('/api/v1/classify/bulk', JSON.stringify({ products: [{ product_id: 'p', description: 'a\u0000b' }] })),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'NUL in a part number (/api/bulk-publish)',
    send: post('/api/bulk-publish', JSON.stringify({ part_numbers: ['A-1\u0000'] })),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a lone surrogate in metadata',
    send: post('/v1/batches', '{"items_text":"a","metadata":{"k":"\\ud800"}}'),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a lone surrogate in an item text',
    send: post('/v1/batches', '{"items":[{"ref":"a","text":"x\\udc00"}]}'),
    status: 400,
    code: 'validation_failed',
  },

  // --- unicode that is fine -----------------------------------------------------------------------
  {
    name: 'emoji, RTL override and zero-width refs',
    send: submit({
      items: [
        { ref: '😀', text: '👟 shoes' },
        { ref: '\u202eevil', text: 'rtl' },
        { ref: '\u200b', text: 'zero width' },
        { ref: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', text: 'astral' },
      ],
    }),
    status: 202,
    items: 4,
  },
  {
    name: 'composed and decomposed é are two refs',
    send: submit({
      items: [
        { ref: '\u00e9', text: 'composed' },
        { ref: 'e\u0301', text: 'decomposed' },
      ],
    }),
    status: 202,
    items: 2,
  },
  {
    name: 'an NDJSON file starting with a byte-order mark',
    send: post('/v1/batches', '\ufeff{"ref":"a","text":"x"}\n{"ref":"b","text":"y"}\n', { 'content-type': 'application/x-ndjson' }),
    status: 202,
    items: 2,
  },
  {
    name: 'a CSV with a byte-order mark and CRLF lines',
    send: post('/v1/batches', '\ufeffref,text\r\n"a, with comma","line\r\nbreak"\r\n', { 'content-type': 'text/csv' }),
    status: 202,
    items: 1,
  },

  // --- duplicates ---------------------------------------------------------------------------------
  {
    name: 'duplicate refs in items',
    send: submit({
      items: [
        { ref: 'a', text: 'x' },
        { ref: 'a', text: 'y' },
      ],
    }),
    status: 400,
    code: 'validation_failed',
  },
  { name: 'duplicate refs in items_text', send: submit({ items_text: 'a, b ,a' }), status: 400, code: 'validation_failed' },
  {
    name: 'duplicate refs in a CSV',
    send: post('/v1/batches', 'ref,text\na,x\nb,y\na,z\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'duplicate refs in NDJSON',
    send: post('/v1/batches', '{"ref":"a","text":"x"}\n{"ref":"a","text":"y"}\n', { 'content-type': 'application/x-ndjson' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'duplicate product ids',
    send: post(
      '/api/v1/classify/bulk',
      JSON.stringify({
        products: [
          { product_id: 'p', description: 'x' },
          { product_id: 'p', description: 'y' },
        ],
      }),
    ),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'duplicate part numbers after trimming',
    send: post('/api/bulk-search', JSON.stringify({ part_numbers: ['A-1', ' A-1 '] })),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a CSV header naming a column twice',
    send: post('/v1/batches', 'ref,text,text\na,x,y\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },

  // --- wrong methods ------------------------------------------------------------------------------
  { name: 'PUT /v1/batches', send: { method: 'PUT', path: '/v1/batches', headers: JSON_TYPE, body: '{}' }, status: 405, code: 'not_found' },
  { name: 'DELETE /v1/batches', send: { method: 'DELETE', path: '/v1/batches' }, status: 405, code: 'not_found' },
  {
    name: 'PATCH /api/bulk-search',
    send: { method: 'PATCH', path: '/api/bulk-search', headers: JSON_TYPE, body: '{}' },
    status: 405,
    code: 'not_found',
  },
  { name: 'GET /batch/jobs', send: { method: 'GET', path: '/batch/jobs' }, status: 405, code: 'not_found' },
  {
    name: 'PROPFIND /v1/batches (a method no route knows)',
    send: raw(['PROPFIND /v1/batches HTTP/1.1', 'Host: x', 'X-Api-Key: {key}', 'Connection: close', '']),
    status: 405,
    code: 'not_found',
  },
  { name: 'an unknown route', send: { method: 'GET', path: '/v2/batches' }, status: 404, code: 'not_found' },

  // --- idempotency keys ---------------------------------------------------------------------------
  {
    name: 'an Idempotency-Key of 256 characters',
    send: submit({ items_text: 'a' }, { 'idempotency-key': 'k'.repeat(256) }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an Idempotency-Key with a space',
    send: submit({ items_text: 'a' }, { 'idempotency-key': 'a b' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an Idempotency-Key reused with another body',
    first: [submit({ items_text: 'a' }, { 'idempotency-key': 'corpus-reuse' })],
    send: submit({ items_text: 'b' }, { 'idempotency-key': 'corpus-reuse' }),
    status: 422,
    code: 'idempotency_key_reused',
  },
  {
    name: 'an Idempotency-Key replayed with the same body',
    first: [submit({ items_text: 'a' }, { 'idempotency-key': 'corpus-replay' })],
    send: submit({ items_text: 'a' }, { 'idempotency-key': 'corpus-replay' }),
    status: 200,
  },
  {
    name: 'a body idempotency_key that differs from the header',
    send: post('/api/bulk-search', JSON.stringify({ part_numbers: ['A-1'], idempotency_key: 'one' }), {
      ...JSON_TYPE,
      'idempotency-key': 'two',
    }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an idempotency_key in the body that is not printable ASCII',
    send: post('/api/bulk-publish', JSON.stringify({ part_numbers: ['A-1'], idempotency_key: 'k\u0000' })),
    status: 400,
    code: 'validation_failed',
  },

  // --- list routes' query parameters ----------------------------------------------------------
  { name: 'limit=0', send: { method: 'GET', path: '/v1/batches?limit=0' }, status: 400, code: 'validation_failed' },
  { name: 'limit=101', send: { method: 'GET', path: '/v1/batches?limit=101' }, status: 400, code: 'validation_failed' },
  { name: 'limit=abc', send: { method: 'GET', path: '/v1/batches?limit=abc' }, status: 400, code: 'validation_failed' },
  { name: 'limit=1.5', send: { method: 'GET', path: '/v1/batches?limit=1.5' }, status: 400, code: 'validation_failed' },
  {
    name: 'status given twice',
    send: { method: 'GET', path: '/v1/batches?status=queued&status=running' },
    status: 400,
    code: 'validation_failed',
  },
  { name: 'an unknown query parameter', send: { method: 'GET', path: '/v1/batches?colour=red' }, status: 400, code: 'validation_failed' },
  {
    name: 'a cursor that is not one',
    send: { method: 'GET', path: '/v1/batches?cursor=bm90IGEgY3Vyc29y' },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an items status that does not exist',
    send: { method: 'GET', path: '/v1/batches/b_00000000000000000000000000/items?status=done' },
    status: 400,
    code: 'validation_failed',
  },
  { name: 'offset=-1 on /api/batches', send: { method: 'GET', path: '/api/batches?offset=-1' }, status: 400, code: 'validation_failed' },
  {
    name: 'an offset past the ceiling on /api/batches',
    send: { method: 'GET', path: '/api/batches?offset=99999999' },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a percent-encoding that is broken',
    send: { method: 'GET', path: '/v1/batches?status=%zz' },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a file submission option out of range',
    send: post('/v1/batches?chunk_size=0', 'ref,text\na,b\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'file submission metadata that is not JSON',
    send: post('/v1/batches?metadata=%7Bnope', 'ref,text\na,b\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },

  // --- keys ---------------------------------------------------------------------------------------
  {
    name: 'Basic instead of a key',
    send: { method: 'GET', path: '/v1/batches', headers: { authorization: 'Basic YTpi', 'x-api-key': '' } },
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'an SQL-like API key',
    send: { method: 'GET', path: '/v1/batches', headers: { 'x-api-key': "' OR '1'='1" } },
    status: 401,
    code: 'unauthorized',
  },

  // --- empty and odd shapes -------------------------------------------------------------------
  { name: 'no items at all', send: submit({ items: [] }), status: 400, code: 'validation_failed' },
  { name: 'items_text of only separators', send: submit({ items_text: ',;\n\t' }), status: 400, code: 'validation_failed' },
  {
    name: 'a CSV of only a header',
    send: post('/v1/batches', 'ref,text\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a CSV with an unclosed quote',
    send: post('/v1/batches', 'ref,text\n"a,b\n', { 'content-type': 'text/csv' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an empty NDJSON file',
    send: post('/v1/batches', '\n\n', { 'content-type': 'application/x-ndjson' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an NDJSON line that is an array',
    send: post('/v1/batches', '[1,2]\n', { 'content-type': 'application/x-ndjson' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a /batch/jobs tenant_id of another tenant (the design: 404 Tenant not found)',
    send: post('/batch/jobs', JSON.stringify({ tenant_id: 'someone-else', documents: [{ filename: 'a', content: 'QUJD' }] })),
    status: 404,
    code: 'not_found',
  },
  {
    name: 'a callback_url with a javascript: scheme',
    send: submit({ items_text: 'a', callback_url: 'javascript:alert(1)' }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a callback_url to a loopback address',
    send: submit({ items_text: 'a', callback_url: 'http://127.0.0.1:9/hook' }),
    status: 400,
    code: 'validation_failed',
  },
];
