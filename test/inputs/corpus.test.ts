/**
 * The hand-written corpus (corpus.ts) against the real app: each case gets the status it names, in
 * the contract's shape (check.ts), creates a batch only when it is accepted, and leaves no
 * half-created batch behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { checkAnswer, errorCode, type Answer } from './check';
import { CORPUS, type CorpusCase, type Raw } from './corpus';
import { asResponse, assertNothingHalfCreated, rawRequest, startInputsApp, type InputsApp } from './harness';

let app: InputsApp;
before(async () => {
  app = await startInputsApp();
});
after(async () => {
  await app?.stop();
});

const tally = new Map<number, number>();

async function batchRows(): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from batches`.execute(app.stack.db.db);
  return rows[0]!.n;
}

const isRaw = (send: CorpusCase['send']): send is Raw => 'raw' in send;

/** Sends the case's request; a raw one that the server closed without an answer is status 0. */
async function send(c: CorpusCase): Promise<Answer> {
  if (!isRaw(c.send)) return app.send(c.send.method, c.send.path, { body: c.send.body, headers: c.send.headers }, c.name);
  const answer = await rawRequest(app.port, c.send.raw(app.stack.key), c.send.gapMs);
  if (answer.status === undefined) return { status: 0, body: undefined, text: answer.body };
  const requestLine = String(c.send.raw(app.stack.key)[0]).split(' ');
  return checkAnswer(asResponse(answer), requestLine[0]!, requestLine[1]!, c.name);
}

test(`the corpus holds at least 50 cases (${CORPUS.length})`, () => {
  assert.ok(CORPUS.length >= 50);
  assert.equal(new Set(CORPUS.map((c) => c.name)).size, CORPUS.length, 'case names are unique');
});

for (const c of CORPUS) {
  test(c.name, async () => {
    for (const req of c.first ?? []) await app.send(req.method, req.path, { body: req.body, headers: req.headers }, `${c.name} (first)`);
    const rowsBefore = await batchRows();
    const answer = await send(c);
    tally.set(answer.status, (tally.get(answer.status) ?? 0) + 1);
    const allowed = Array.isArray(c.status) ? c.status : [c.status];
    assert.ok(
      allowed.includes(answer.status),
      `${c.name}: expected ${allowed.join(' or ')}, got ${answer.status}: ${answer.text.slice(0, 500)}`,
    );
    if (c.code && answer.status >= 400) assert.equal(errorCode(answer), c.code, `${c.name}: ${answer.text.slice(0, 300)}`);
    if (c.items !== undefined) assert.equal((answer.body as { total_items: number }).total_items, c.items);
    // Only an accepted new batch adds a row; a refusal (or a closed connection) adds none. The
    // FastAPI designs' routes answer a new batch with 200 (where /v1 uses 200 for a replay).
    const fastApiSubmit = !isRaw(c.send) && c.send.method === 'POST' && /^\/(?:batch\/jobs|api\/bulk-)/.test(c.send.path);
    const created = answer.status === 202 || (answer.status === 200 && fastApiSubmit);
    await new Promise((r) => setImmediate(r));
    assert.equal(await batchRows(), rowsBefore + (created ? 1 : 0), `${c.name}: batch rows`);
    await assertNothingHalfCreated(app.stack);
  });
}

test('the tables are all still there, and the tally', async (t) => {
  // The SQL-like refs were stored as text: the batches table answers as before.
  assert.ok((await batchRows()) > 0);
  const line = [...tally.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${n} × ${status === 0 ? 'closed' : status}`)
    .join(', ');
  t.diagnostic(`corpus: ${CORPUS.length} cases: ${line}; no half-created batch after any`);
});
