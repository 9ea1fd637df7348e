/**
 * The node options the long-running processes ship with (docs/configuration.md, "Node options and
 * memory"): `npm start` and `npm run worker` run node itself with tsx's CommonJS loader and the
 * same heap options, the compose worker the compiled code with those heap options, and the bench
 * reads them from package.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scriptEnv, scriptNodeOptions } from '../../bench/child';

const ROOT = path.resolve(__dirname, '..', '..');
const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** The compose service's `command: ['node', …]` as a list of words. */
function composeCommand(service: string): string[] {
  const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  const block = compose.split(/\n {2}(?=[a-z-]+:\n)/).find((b) => b.startsWith(`${service}:\n`));
  const m = block && /\n\s+command: \[(.*)\]/.exec(block);
  assert.ok(m, `no command for the compose service ${service}`);
  return m[1]!.split(',').map((w) => w.trim().replace(/^'|'$/g, ''));
}

test('npm start and npm run worker run node with the CommonJS loader and the heap options', () => {
  for (const script of ['start', 'worker']) {
    const options = scriptNodeOptions(script);
    assert.match(scripts[script]!, /^MALLOC_ARENA_MAX=2 node .* src\/main\/(start|worker)\.ts$/);
    assert.deepEqual(scriptEnv(script), { MALLOC_ARENA_MAX: '2' });
    assert.deepEqual(options.slice(-2), ['--require', 'tsx/cjs'], `${script}: the loader`);
    for (const flag of ['--max-old-space-size', '--max-semi-space-size'])
      assert.ok(
        options.some((o) => new RegExp(`^${flag}=\\d+$`).test(o)),
        `${script}: ${flag}`,
      );
  }
  assert.deepEqual(scriptNodeOptions('start'), scriptNodeOptions('worker'));
});

/** npm run worker's node options but the loader: the image runs the compiled dist/, with node alone. */
const heapOptions = (script: string): string[] => scriptNodeOptions(script).filter((o) => o !== '--require' && o !== 'tsx/cjs');

test('the compose worker runs the compiled worker with the heap options of npm run worker', () => {
  assert.deepEqual(composeCommand('worker'), ['node', ...heapOptions('worker'), 'dist/src/main/worker.js']);
  assert.deepEqual(composeCommand('api'), ['node', 'dist/src/main/api.js']);
  assert.deepEqual(composeCommand('migrate'), ['node', 'dist/src/main/migrate.js']);
});

test('the image runs the compiled API with no loader, and both processes with two malloc arenas', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^ENV [^\n]*\\\n(?: {4}[^\n]*\\\n)* {4}MALLOC_ARENA_MAX=2 /m);
  assert.match(dockerfile, /^CMD \["node", "dist\/src\/main\/api\.js"\]$/m);
  assert.doesNotMatch(dockerfile, /^(?:CMD|ENTRYPOINT|RUN) .*tsx/m);
});
