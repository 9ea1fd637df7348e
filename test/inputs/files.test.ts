/**
 * Generated inputs (fast-check) against the real app: POST /v1/batches with CSV and NDJSON files:
 * the upload parsers, through HTTP with their content types, and the options in the query. Whatever is sent: never a
 * 5xx, every 4xx in the contract's error shape (check.ts), every valid generated input accepted,
 * and after each property no half-created batch. The generated-input files' quotas (submissions
 * 4,200, files 3,400, compat 2,520) sum to 10,120 cases.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Answer } from './check';
import { startInputsApp, type InputsApp } from './harness';
import { property, totalsLine, type Totals } from './property';
import { hostileCsv, hostileNdjson, hostileQuery, options, optionsQuery, validCsv, validNdjson } from './arbitraries';

/** Mostly valid options: a hostile query is refused before the body is read, so the parser would see little. */
const fileQuery = fc.oneof({ weight: 2, arbitrary: options.map(optionsQuery) }, { weight: 1, arbitrary: hostileQuery });

let app: InputsApp;
const totals: Totals = { cases: 0, accepted: 0, refused: 0 };
before(async () => {
  app = await startInputsApp();
});
after(async () => {
  await app?.stop();
});

const accepted = (a: Answer, what: string): void => assert.ok(a.status === 202, `${what} was refused: ${a.status} ${a.text.slice(0, 400)}`);

describe('POST /v1/batches, files', () => {
  test('valid generated CSV files are accepted with every row', async (t) => {
    await property(app, totals, t, validCsv, 200, async ({ csv, query, total }) => {
      const a = await app.send('POST', `/v1/batches${query}`, { body: csv, headers: { 'content-type': 'text/csv' } }, 'valid CSV');
      accepted(a, JSON.stringify(csv).slice(0, 300));
      assert.equal((a.body as { total_items: number }).total_items, total);
      return a;
    });
  });

  test('hostile CSV text, with valid or hostile query options', async (t) => {
    await property(app, totals, t, fc.tuple(hostileCsv, fileQuery), 1_500, ([csv, query]) =>
      app.send('POST', `/v1/batches${query}`, { body: csv, headers: { 'content-type': 'text/csv; charset=utf-8' } }, 'hostile CSV'),
    );
  });

  test('valid generated NDJSON files are accepted with every line', async (t) => {
    await property(app, totals, t, validNdjson, 200, async ({ ndjson, query, total }) => {
      const a = await app.send(
        'POST',
        `/v1/batches${query}`,
        { body: ndjson, headers: { 'content-type': 'application/x-ndjson' } },
        'valid NDJSON',
      );
      accepted(a, JSON.stringify(ndjson).slice(0, 300));
      assert.equal((a.body as { total_items: number }).total_items, total);
      return a;
    });
  });

  test('hostile NDJSON text, with valid or hostile query options', async (t) => {
    await property(app, totals, t, fc.tuple(hostileNdjson, fileQuery), 1_500, ([ndjson, query]) =>
      app.send('POST', `/v1/batches${query}`, { body: ndjson, headers: { 'content-type': 'application/x-ndjson' } }, 'hostile NDJSON'),
    );
  });
});

test('at least 3,400 generated cases ran', (t) => {
  t.diagnostic(totalsLine(totals));
  assert.ok(totals.cases >= 3_400, `only ${totals.cases} cases ran`);
});
