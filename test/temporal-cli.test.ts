import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { cachedCliPath, resolveTemporalCli, TEMPORAL_CLI_VERSION } from '../src/temporal/cli';
import { startDevServer } from '../src/temporal/dev-server';
import { ALL_SEARCH_ATTRIBUTES } from '../src/temporal/search-attributes';

const tempDirs: string[] = [];
after(() => Promise.all(tempDirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'batchflow-cli-test-'));
  tempDirs.push(dir);
  return dir;
}

async function writeFile(file: string, content: string, mode: number): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content, { mode });
  await fs.chmod(file, mode); // writeFile's mode is filtered by umask
  return file;
}

const exe = (file: string) => writeFile(file, '#!/bin/sh\n', 0o755);

// A stand-in for `go` that records how it was called and "installs" a binary
// after a delay, so lock waiting and output passthrough can be observed.
// The shebang is node's absolute path so the test PATH can stay hermetic.
async function fakeGo(dir: string, callsFile: string): Promise<string> {
  const script = `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
process.stderr.write('go: downloading example.com/fake v0.0.0\\n');
fs.appendFileSync(${JSON.stringify(callsFile)}, JSON.stringify({
  args: process.argv.slice(2), cgo: process.env.CGO_ENABLED, gobin: process.env.GOBIN, cwd: process.cwd(),
}) + '\\n');
setTimeout(() => fs.writeFileSync(path.join(process.env.GOBIN, 'temporal'), '#!/bin/sh\\n', { mode: 0o755 }), 1000);
`;
  return writeFile(path.join(dir, 'go'), script, 0o755);
}

test('cachedCliPath lives outside the repo, under BATCHFLOW_CACHE_DIR, XDG_CACHE_HOME or ~/.cache', () => {
  const leaf = path.join(`temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
  assert.equal(cachedCliPath({ BATCHFLOW_CACHE_DIR: '/c/bf', XDG_CACHE_HOME: '/x' }), path.join('/c/bf', leaf));
  assert.equal(cachedCliPath({ XDG_CACHE_HOME: '/x', HOME: '/h' }), path.join('/x/batchflow', leaf));
  assert.equal(cachedCliPath({ HOME: '/h' }), path.join('/h/.cache/batchflow', leaf));
});

test('TEMPORAL_CLI_PATH wins over PATH and the cache', async () => {
  const dir = await tempDir();
  const explicit = await exe(path.join(dir, 'custom', 'my-temporal'));
  await exe(path.join(dir, 'bin', 'temporal'));
  const env = { TEMPORAL_CLI_PATH: explicit, PATH: path.join(dir, 'bin'), BATCHFLOW_CACHE_DIR: path.join(dir, 'cache') };
  await exe(cachedCliPath(env));
  assert.deepEqual(await resolveTemporalCli({ env }), { type: 'existing-path', path: explicit });
});

test('a TEMPORAL_CLI_PATH that is not an executable file is a clear error', async () => {
  const dir = await tempDir();
  const notExecutable = await writeFile(path.join(dir, 'temporal'), '#!/bin/sh\n', 0o644);
  for (const bad of [notExecutable, dir, path.join(dir, 'missing')]) {
    await assert.rejects(resolveTemporalCli({ env: { TEMPORAL_CLI_PATH: bad, PATH: '' } }), (err: Error) => {
      assert.match(err.message, /TEMPORAL_CLI_PATH/);
      assert.ok(err.message.includes(bad), err.message);
      assert.match(err.message, /not an executable file/);
      return true;
    });
  }
});

test('temporal on PATH wins over the cache; non-executable and empty entries are skipped', async () => {
  const dir = await tempDir();
  await writeFile(path.join(dir, 'first', 'temporal'), 'not a program', 0o644);
  const second = await exe(path.join(dir, 'second', 'temporal'));
  const env = {
    PATH: ['', path.join(dir, 'first'), path.join(dir, 'second')].join(path.delimiter),
    BATCHFLOW_CACHE_DIR: path.join(dir, 'cache'),
  };
  await exe(cachedCliPath(env));
  assert.deepEqual(await resolveTemporalCli({ env }), { type: 'existing-path', path: second });
});

test('the cached build is used when neither override nor PATH has temporal', async () => {
  const dir = await tempDir();
  const env = { PATH: path.join(dir, 'empty-bin'), BATCHFLOW_CACHE_DIR: path.join(dir, 'cache') };
  const cached = await exe(cachedCliPath(env));
  assert.deepEqual(await resolveTemporalCli({ env }), { type: 'existing-path', path: cached });
});

test('without temporal and without go, the SDK download is requested', async () => {
  const dir = await tempDir();
  const env = { PATH: path.join(dir, 'empty-bin'), BATCHFLOW_CACHE_DIR: path.join(dir, 'cache') };
  assert.deepEqual(await resolveTemporalCli({ env }), { type: 'cached-download' });
});

test('concurrent resolves build once with go, pass its output through and install atomically', async () => {
  const dir = await tempDir();
  const calls = path.join(dir, 'calls.jsonl');
  await fakeGo(path.join(dir, 'go-bin'), calls);
  const env = { PATH: path.join(dir, 'go-bin'), BATCHFLOW_CACHE_DIR: path.join(dir, 'cache') };
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  const results = await Promise.all([resolveTemporalCli({ env, log }), resolveTemporalCli({ env, log })]);

  const target = cachedCliPath(env);
  assert.deepEqual(results, [
    { type: 'existing-path', path: target },
    { type: 'existing-path', path: target },
  ]);
  const invocations = (await fs.readFile(calls, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(invocations.length, 1, 'the second resolver must wait for the first build, not start its own');
  const [call] = invocations;
  assert.deepEqual(call.args, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`]);
  assert.equal(call.cgo, '0');
  assert.equal(path.dirname(call.gobin), path.dirname(target), 'GOBIN must be a temp dir next to the target');
  assert.notEqual(call.gobin, path.dirname(target));
  assert.ok(lines.includes('go: downloading example.com/fake v0.0.0'), lines.join('\n'));
  // Only the binary remains: no temp GOBIN, no lock file.
  assert.deepEqual(await fs.readdir(path.dirname(target)), ['temporal']);
});

test('a build lock left by a dead process is broken', async () => {
  const dir = await tempDir();
  const calls = path.join(dir, 'calls.jsonl');
  await fakeGo(path.join(dir, 'go-bin'), calls);
  const env = { PATH: path.join(dir, 'go-bin'), BATCHFLOW_CACHE_DIR: path.join(dir, 'cache') };
  // Above Linux's maximum pid_max (2^22), so it can never be a live process.
  await writeFile(path.join(path.dirname(cachedCliPath(env)), '.build.lock'), '99999999', 0o644);
  const lines: string[] = [];

  const result = await resolveTemporalCli({ env, log: (l) => lines.push(l) });

  assert.deepEqual(result, { type: 'existing-path', path: cachedCliPath(env) });
  assert.ok(
    lines.some((l) => l.includes('stale') && l.includes('99999999')),
    lines.join('\n'),
  );
});

test('dev server keeps workflows across restarts and registers the search attributes', { timeout: 15 * 60_000 }, async () => {
  const dbFilename = path.join(await tempDir(), 'nested', 'temporal.db');
  const executable = await resolveTemporalCli({ log: (l) => console.error(l) }); // may build on a cold machine

  // First run: a database created without our attributes, as an older build would have.
  // (The CLI needs the parent directory to exist; startDevServer creates it itself.)
  await fs.mkdir(path.dirname(dbFilename), { recursive: true });
  const old = await TestWorkflowEnvironment.createLocal({ server: { executable, dbFilename } });
  try {
    const before = await old.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    assert.equal(before.customAttributes?.TenantId, undefined);
    await old.client.workflow.start('batchWorkflow', { taskQueue: 'no-worker', workflowId: 'survives-restart' });
  } finally {
    await old.teardown();
  }

  const started = Date.now();
  const lines: string[] = [];
  const server = await startDevServer({ dbFilename, log: (l) => lines.push(l) });
  console.error(`dev server started in ${Date.now() - started} ms`);
  try {
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(server.namespace, 'default');
    assert.equal(server.uiUrl, null);
    assert.ok(
      lines.some((l) => l.startsWith('registering search attributes missing')),
      lines.join('\n'),
    );

    const { customAttributes } = await server.env.connection.operatorService.listSearchAttributes({
      namespace: server.namespace,
    });
    for (const { name, type } of ALL_SEARCH_ATTRIBUTES) {
      assert.equal(customAttributes?.[name], encodeSearchAttributeIndexedValueType(type), `search attribute ${name}`);
    }

    // `address` must work for a fresh client, not just the env's own connection.
    const connection = await Connection.connect({ address: server.address });
    try {
      const described = await connection.workflowService.describeWorkflowExecution({
        namespace: server.namespace,
        execution: { workflowId: 'survives-restart' },
      });
      assert.equal(described.workflowExecutionInfo?.type?.name, 'batchWorkflow');
    } finally {
      await connection.close();
    }
  } finally {
    await server.stop();
  }
});
