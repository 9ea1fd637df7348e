/**
 * `npm test`: provisions the Temporal CLI if needed, starts one dev server for the whole suite,
 * and runs every test file with Node's test runner against it. Each test uses its own task queue
 * (and, on PostgreSQL, its own schema), so files run in parallel without meeting.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startDevServer } from '../src/temporal/dev-server';
import { ensureChromium } from './helpers/browser';

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return testFiles(full);
    return e.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** A port nothing listens on right now: the OS picks it, then it is released for the UI. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const log = (line: string): void => console.error(`[test] ${line}`);
  ensureChromium(log);
  // The Temporal UI too, on a free port, for the browser tests (TEMPORAL_TEST_UI_URL).
  const server = await startDevServer({ log, ui: true, uiPort: await freePort() });
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args : testFiles(path.join(__dirname)).sort();
  log(`database: ${process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'PGlite (in memory)'}; ${files.length} test files`);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
    stdio: 'inherit',
    env: { ...process.env, TEMPORAL_TEST_ADDRESS: server.address, TEMPORAL_TEST_NAMESPACE: server.namespace, TEMPORAL_TEST_UI_URL: server.uiUrl ?? '' },
  });
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  await server.stop();
  log(`finished in ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(code);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
