/**
 * Generated inputs (fast-check) against the real app: the compatibility routes (/api, /batch)
 * and the list routes' query strings. Whatever is sent: never a
 * 5xx, every 4xx in the contract's error shape (check.ts), every valid generated input accepted,
 * and after each property no half-created batch. The generated-input files' quotas (submissions
 * 4,200, files 3,400, compat 2,520) sum to 10,120 cases.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startInputsApp, type InputsApp } from './harness';
import { JSON_TYPE, property, totalsLine, type Totals } from './property';
import { COMPAT_ROUTES, hostileQuery, mutated } from './arbitraries';

let app: InputsApp;
const totals: Totals = { cases: 0, accepted: 0, refused: 0 };
before(async () => {
  app = await startInputsApp();
});
after(async () => {
  await app?.stop();
});

describe('compatibility routes', () => {
  for (const route of COMPAT_ROUTES) {
    test(`POST ${route.path}: valid generated bodies are accepted`, async (t) => {
      await property(app, totals, t, route.valid as fc.Arbitrary<unknown>, 80, async (body) => {
        const a = await app.send('POST', route.path, { body: JSON.stringify(body), headers: JSON_TYPE }, `valid ${route.path}`);
        assert.ok(a.status === route.accepted, `${JSON.stringify(body).slice(0, 300)} was refused: ${a.status} ${a.text.slice(0, 400)}`);
        return a;
      });
    });

    test(`POST ${route.path}: hostile bodies`, async (t) => {
      const arb = fc.oneof(
        { weight: 3, arbitrary: mutated(route.valid as fc.Arbitrary<unknown>, [...route.paths]) },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
      );
      await property(app, totals, t, arb, 400, (body) =>
        app.send('POST', route.path, { body: JSON.stringify(body), headers: JSON_TYPE }, `hostile ${route.path}`),
      );
    });
  }

  test('list routes with hostile query strings', async (t) => {
    const paths = ['/v1/batches', '/v1/batches/b_00000000000000000000000000/items', '/api/batches', '/v1/review', '/v1/catalog'];
    await property(app, totals, t, fc.tuple(fc.constantFrom(...paths), hostileQuery), 600, ([path, query]) =>
      app.send('GET', `${path}${query}`, {}, 'list query'),
    );
  });
});

test('at least 2,520 generated cases ran', (t) => {
  t.diagnostic(totalsLine(totals));
  assert.ok(totals.cases >= 2_520, `only ${totals.cases} cases ran`);
});
