/**
 * Generated inputs (fast-check) against the real app: POST /v1/batches with JSON bodies:
 * the submission schema and the JSON reader. Whatever is sent: never a
 * 5xx, every 4xx in the contract's error shape (check.ts), every valid generated input accepted,
 * and after each property no half-created batch. The generated-input files' quotas (submissions
 * 4,200, files 3,400, compat 2,520) sum to 10,120 cases.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import type { Answer } from './check';
import { startInputsApp, type InputsApp } from './harness';
import { JSON_TYPE, property, totalsLine, type Totals } from './property';
import { brokenJson, hostileSubmission, validSubmission } from './arbitraries';

let app: InputsApp;
const totals: Totals = { cases: 0, accepted: 0, refused: 0 };
before(async () => {
  app = await startInputsApp();
});
after(async () => {
  await app?.stop();
});

const accepted = (a: Answer, what: string): void => assert.ok(a.status === 202, `${what} was refused: ${a.status} ${a.text.slice(0, 400)}`);

describe('POST /v1/batches, JSON', () => {
  test('valid generated submissions are accepted with every item', async (t) => {
    await property(app, totals, t, validSubmission, 300, async ({ body, total }) => {
      const a = await app.send('POST', '/v1/batches', { body: JSON.stringify(body), headers: JSON_TYPE }, 'valid submission');
      accepted(a, JSON.stringify(body).slice(0, 300));
      assert.equal((a.body as { total_items: number }).total_items, total);
      return a;
    });
  });

  test('any JSON value, or a valid body with fields replaced by anything', async (t) => {
    await property(app, totals, t, hostileSubmission, 2_900, (body) =>
      app.send('POST', '/v1/batches', { body: JSON.stringify(body) ?? 'null', headers: JSON_TYPE }, 'hostile submission'),
    );
  });

  test('bodies that are not quite JSON', async (t) => {
    await property(app, totals, t, brokenJson, 1_000, (body) =>
      app.send('POST', '/v1/batches', { body, headers: JSON_TYPE }, 'broken JSON'),
    );
  });
});

test('at least 4,200 generated cases ran', (t) => {
  t.diagnostic(totalsLine(totals));
  assert.ok(totals.cases >= 4_200, `only ${totals.cases} cases ran`);
});
