/**
 * docs/api.md, the contract in prose, against the `/openapi.json` the server publishes: its
 * "Every route" table names each route of the document and nothing else, and every route the page
 * names anywhere (`METHOD /path` in code) is one the document has. The document is taken from the
 * same router the app mounts, so what is checked is what is served.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Koa from 'koa';
import { docsRoutes } from '../../src/api/routes/docs';

const PAGE = fs.readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'api.md'), 'utf8');
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

type Route = string; // "GET /v1/batches/{id}"

let server: ReturnType<Koa['listen']>;
let documented: Route[];

before(async () => {
  const app = new Koa();
  app.use(docsRoutes().routes());
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
    Object.keys(ops)
      .filter((m) => METHODS.includes(m.toUpperCase()))
      .map((m) => `${m.toUpperCase()} ${p}`),
  );
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Markdown outside fenced code blocks (the `curl` examples are not route names). */
function prose(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .filter((line) => (/^\s*```/.test(line) ? ((fenced = !fenced), false) : !fenced))
    .join('\n');
}

/** The routes of the page's "## Every route" table: its first column, `METHOD /path`. */
function tableRoutes(): Route[] {
  const lines = prose(PAGE).split('\n');
  const start = lines.findIndex((l) => l.trim() === '## Every route');
  assert.ok(start >= 0, 'docs/api.md has no "## Every route" section');
  const end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  return lines
    .slice(start + 1, end < 0 ? undefined : end)
    .map((l) => /^\|\s*`([A-Z]+ \/[^`\s]*)`\s*\|/.exec(l)?.[1])
    .filter((r): r is Route => r !== undefined);
}

/** A route as the page may write it in prose: query dropped, parameter names ignored. */
const shape = (route: Route): string => route.replace(/[?#].*$/, '').replace(/\{[^}]*\}/g, '{}');

describe('docs/api.md against /openapi.json', () => {
  test('the "Every route" table names every route of /openapi.json, once', () => {
    const table = tableRoutes();
    assert.ok(documented.length >= 30, `only ${documented.length} routes in /openapi.json`);
    const missing = documented.filter((r) => !table.includes(r)).sort();
    assert.deepEqual(missing, [], 'routes of /openapi.json that docs/api.md does not list');
    const twice = table.filter((r, i) => table.indexOf(r) !== i);
    assert.deepEqual(twice, [], 'routes listed twice');
  });

  test('every route the table lists is in /openapi.json', () => {
    const unknown = tableRoutes().filter((r) => !documented.includes(r));
    assert.deepEqual(unknown, [], 'routes docs/api.md lists that /openapi.json does not have');
  });

  test('every `METHOD /path` the page names anywhere is a route of /openapi.json', () => {
    const known = new Set(documented.map(shape));
    const named = [...prose(PAGE).matchAll(/`([A-Z]+) (\/[^`\s]*)[^`]*`/g)]
      .filter((m) => METHODS.includes(m[1]!))
      .map((m) => `${m[1]} ${m[2]}`);
    assert.ok(named.length >= 40, `found only ${named.length} routes named in docs/api.md`);
    const unknown = [...new Set(named.filter((r) => !known.has(shape(r))))];
    assert.deepEqual(unknown, [], 'routes named in docs/api.md that /openapi.json does not have');
  });
});
