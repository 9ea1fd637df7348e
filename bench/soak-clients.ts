/**
 * The soak's clients. Each one, until told to stop, submits a batch (JSON, CSV or NDJSON, 50 to 400
 * items), follows it on a live stream (SSE or WebSocket, alternately), polls it and the lists,
 * sometimes pauses and resumes it or cancels it mid-run, exports some finished ones, and then starts
 * the next. One batch per client at a time keeps the work in flight steady, so growth over the run
 * means something grew, not that a backlog did.
 */
import WebSocket from 'ws';

export type Family = 'submit' | 'get' | 'list' | 'items' | 'control' | 'export' | 'sse' | 'ws';
export const FAMILIES: Family[] = ['submit', 'get', 'list', 'items', 'control', 'export', 'sse', 'ws'];
const TERMINAL = new Set(['completed', 'partial', 'failed', 'cancelled']);
/** A request that takes this long is a failure, not a slow success. */
const REQUEST_TIMEOUT_MS = 60_000;
/** A batch of a few hundred items that has not finished in this long is reported stuck. */
const BATCH_DEADLINE_MS = 5 * 60_000;
/** Once a batch has ended, its stream must end too within this long. */
const STREAM_END_GRACE_MS = 15_000;

export interface Recorder {
  latencies: Record<Family, number[]>;
  /** `<family> <status>` → count; status 0 is a network error or a timeout. */
  statuses: Map<string, number>;
  /** Anything that is not the expected answer: 5xx, network errors, 4xx other than 409 on control. */
  problems: string[];
  batches: SubmittedBatch[];
  streams: { opened: number; events: number; endedWithoutTerminal: number; leftOpen: number };
}

export interface SubmittedBatch {
  id: string;
  total: number;
  format: 'json' | 'csv' | 'ndjson';
  plan: 'run' | 'cancel' | 'pause';
  status?: string;
}

export const newRecorder = (): Recorder => ({
  latencies: Object.fromEntries(FAMILIES.map((f) => [f, []])) as unknown as Record<Family, number[]>,
  statuses: new Map(),
  problems: [],
  batches: [],
  streams: { opened: 0, events: 0, endedWithoutTerminal: 0, leftOpen: 0 },
});

const PHRASES = [
  "Men's cotton t-shirt, crew neck",
  'leather ankle boots with rubber sole',
  'wireless bluetooth headphones',
  'solid oak dining chair',
  'plush teddy bear toy for children',
  'stainless steel kitchen knife',
  'ceramic brake pads for passenger cars',
  'A4 notebook, ruled paper',
  'face moisturising cream 50 ml',
  'roasted coffee beans, 1 kg',
];
/** Nothing in the taxonomy: it ends needs_review. Mixed into some batches only. */
const UNKNOWN = 'zq-77 flux widget';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const jitter = (ms: number): number => ms * (0.5 + Math.random());
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

export interface ClientContext {
  baseUrl: string;
  key: string;
  rec: Recorder;
  /** True once the run's time is up: finish the batch in hand, start no other. */
  stopping(): boolean;
}

function record(rec: Recorder, family: Family, status: number, ms: number, what: string, expected4xx = false): void {
  rec.latencies[family].push(ms);
  const k = `${family} ${status}`;
  rec.statuses.set(k, (rec.statuses.get(k) ?? 0) + 1);
  if (status === 0 || status >= 500 || (status >= 400 && !(expected4xx && status === 409)))
    rec.problems.push(`${new Date().toISOString()} ${what} → ${status || 'network error'}`);
}

/** One request, timed and recorded; the body is read in full (export streams included). */
async function call(
  ctx: ClientContext,
  family: Family,
  method: string,
  path: string,
  body?: { type: string; data: string },
  expected4xx = false,
): Promise<{ status: number; json?: unknown }> {
  const started = performance.now();
  let status = 0;
  let json: unknown;
  try {
    const res = await fetch(`${ctx.baseUrl}${path}`, {
      method,
      headers: { 'x-api-key': ctx.key, ...(body ? { 'content-type': body.type } : {}) },
      body: body?.data,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    status = res.status;
    const text = await res.text();
    if (res.headers.get('content-type')?.includes('application/json') && family !== 'export') json = JSON.parse(text);
  } catch (err) {
    // status stays 0: a network error or a timeout
    ctx.rec.problems.push(`${new Date().toISOString()} ${method} ${path}: ${String(err)}`);
  }
  record(ctx.rec, family, status, performance.now() - started, `${method} ${path}`, expected4xx);
  return { status, json };
}

function buildBody(
  client: number,
  n: number,
  format: SubmittedBatch['format'],
): { path: string; type: string; data: string; total: number } {
  const total = 50 + Math.floor(Math.random() * 351);
  const phrases = Math.random() < 0.3 ? [...PHRASES, UNKNOWN] : PHRASES;
  const items = Array.from({ length: total }, (_, i) => ({
    ref: `c${client}-b${n}-${i}`,
    text: `${pick(phrases)} #${i}`,
    origin: pick(['CN', 'MX', 'DE', 'VN']),
  }));
  const onCancel = pick(['keep', 'rollback']);
  if (format === 'json') {
    const data = JSON.stringify({
      items: items.map((it) => ({ ref: it.ref, text: it.text, attributes: { origin_country: it.origin } })),
      chunk_size: 25,
      on_cancel: onCancel,
    });
    return { path: '/v1/batches', type: 'application/json', data, total };
  }
  const query = `?chunk_size=25&on_cancel=${onCancel}`;
  if (format === 'csv') {
    const rows = items.map((it) => `${it.ref},"${it.text.replace(/"/g, '""')}",${it.origin}`);
    return { path: `/v1/batches${query}`, type: 'text/csv', data: ['ref,text,origin_country', ...rows].join('\n') + '\n', total };
  }
  const lines = items.map((it) => JSON.stringify({ ref: it.ref, text: it.text, attributes: { origin_country: it.origin } }));
  return { path: `/v1/batches${query}`, type: 'application/x-ndjson', data: lines.join('\n') + '\n', total };
}

interface Stream {
  /** Resolves when the stream has ended (terminal event or closed). */
  done: Promise<void>;
  abort(): void;
}

/** SSE over fetch: counts events, notes whether a terminal one arrived before the server closed. */
function openSse(ctx: ClientContext, id: string): Stream {
  const controller = new AbortController();
  const started = performance.now();
  const done = (async () => {
    let terminal = false;
    try {
      const res = await fetch(`${ctx.baseUrl}/v1/batches/${id}/events`, {
        headers: { 'x-api-key': ctx.key, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      record(ctx.rec, 'sse', res.status, performance.now() - started, `GET /v1/batches/${id}/events`);
      if (!res.ok || !res.body) return void (await res.text().catch(() => ''));
      ctx.rec.streams.opened++;
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = /^event: ?(.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (!event) continue;
          ctx.rec.streams.events++;
          if (TERMINAL.has(event)) terminal = true;
        }
      }
      if (!terminal) ctx.rec.streams.endedWithoutTerminal++;
    } catch (err) {
      if (!controller.signal.aborted) ctx.rec.problems.push(`${new Date().toISOString()} SSE ${id}: ${String(err)}`);
    }
  })();
  return { done, abort: () => controller.abort() };
}

function openWs(ctx: ClientContext, id: string): Stream {
  const started = performance.now();
  const ws = new WebSocket(`${ctx.baseUrl.replace(/^http/, 'ws')}/v1/batches/${id}/ws`, { headers: { 'x-api-key': ctx.key } });
  let aborted = false;
  let terminal = false;
  const done = new Promise<void>((resolve) => {
    ws.on('open', () => {
      record(ctx.rec, 'ws', 101, performance.now() - started, `WS /v1/batches/${id}/ws`);
      ctx.rec.streams.opened++;
    });
    ws.on('unexpected-response', (_req, res) => {
      record(ctx.rec, 'ws', res.statusCode ?? 0, performance.now() - started, `WS /v1/batches/${id}/ws`);
      res.resume();
      resolve();
    });
    ws.on('message', (data) => {
      ctx.rec.streams.events++;
      try {
        if (TERMINAL.has((JSON.parse(String(data)) as { type?: string }).type ?? '')) terminal = true;
      } catch {
        ctx.rec.problems.push(`WS ${id}: a message that is not JSON`);
      }
    });
    ws.on('error', (err) => {
      if (!aborted) ctx.rec.problems.push(`${new Date().toISOString()} WS ${id}: ${String(err)}`);
    });
    ws.on('close', () => {
      if (!terminal && !aborted) ctx.rec.streams.endedWithoutTerminal++;
      resolve();
    });
  });
  return {
    done,
    abort: () => {
      aborted = true;
      ws.terminate();
    },
  };
}

/** One batch, start to end; its final status lands in the recorder (or a problem says why it has none). */
async function oneBatch(ctx: ClientContext, client: number, n: number): Promise<void> {
  const format = pick(['json', 'csv', 'ndjson'] as const);
  const r = Math.random();
  const plan: SubmittedBatch['plan'] = r < 0.15 ? 'cancel' : r < 0.3 ? 'pause' : 'run';
  const body = buildBody(client, n, format);
  const submitted = await call(ctx, 'submit', 'POST', body.path, { type: body.type, data: body.data });
  if (submitted.status !== 202) {
    await sleep(2_000);
    return;
  }
  const id = (submitted.json as { batch_id: string }).batch_id;
  const batch: SubmittedBatch = { id, total: body.total, format, plan };
  ctx.rec.batches.push(batch);
  const stream = n % 2 === 0 ? openSse(ctx, id) : openWs(ctx, id);

  const started = Date.now();
  const controlAt = started + jitter(2_000);
  let paused = false;
  let controlled = plan === 'run';
  let polls = 0;
  while (Date.now() - started < BATCH_DEADLINE_MS) {
    const got = await call(ctx, 'get', 'GET', `/v1/batches/${id}`);
    const status = (got.json as { status?: string } | undefined)?.status;
    if (status && TERMINAL.has(status)) {
      batch.status = status;
      break;
    }
    if (!controlled && Date.now() >= controlAt) {
      controlled = true;
      if (plan === 'cancel')
        await call(
          ctx,
          'control',
          'POST',
          `/v1/batches/${id}/cancel`,
          { type: 'application/json', data: JSON.stringify({ rollback: Math.random() < 0.5 }) },
          true,
        );
      else paused = (await call(ctx, 'control', 'POST', `/v1/batches/${id}/pause`, undefined, true)).status === 202;
    }
    if (paused && Date.now() >= controlAt + 3_000) {
      // 202 resumed it; 409 means it ended meanwhile (cancelled from elsewhere, say).
      await call(ctx, 'control', 'POST', `/v1/batches/${id}/resume`, undefined, true);
      paused = false;
    }
    if (++polls % 5 === 0) {
      await call(ctx, 'list', 'GET', `/v1/batches?limit=20${Math.random() < 0.5 ? '&status=running' : ''}`);
      await call(ctx, 'items', 'GET', `/v1/batches/${id}/items?limit=50`);
    }
    await sleep(jitter(1_000));
  }
  if (!batch.status) ctx.rec.problems.push(`batch ${id} (${plan}) not finished after ${BATCH_DEADLINE_MS} ms`);

  if (batch.status && batch.status !== 'cancelled' && Math.random() < 0.4)
    await call(ctx, 'export', 'GET', `/v1/batches/${id}/export?format=${pick(['csv', 'ndjson', 'json', 'parquet'])}`);
  await call(ctx, 'items', 'GET', `/v1/batches/${id}/items?limit=100`);
  const ended = await Promise.race([stream.done.then(() => true), sleep(STREAM_END_GRACE_MS).then(() => false)]);
  if (!ended) {
    ctx.rec.streams.leftOpen++;
    ctx.rec.problems.push(
      `the ${n % 2 === 0 ? 'SSE' : 'WebSocket'} stream of ${id} (${batch.status ?? 'unfinished'}) still open ${STREAM_END_GRACE_MS} ms after the batch ended`,
    );
    stream.abort();
    await stream.done;
  }
}

/** A client: batches one after another until the run's time is up. */
export async function runClient(ctx: ClientContext, client: number): Promise<void> {
  // Spread the first submissions so the clients do not march in step.
  await sleep(Math.random() * 3_000);
  for (let n = 0; !ctx.stopping(); n++) await oneBatch(ctx, client, n);
}
