/**
 * Closing the client's connection while a call waits to be retried: the SDK's retry interceptor
 * then throws from its timer (an uncaught exception that ends the process); the one the API and
 * the tests connect with (src/temporal/grpc-retry.ts) lets the retry fire first, and the call ends
 * with its failure. The first case documents the hazard: when an SDK upgrade fixes it, it fails,
 * and the workaround can go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHILD = path.join(__dirname, 'close-under-retry.ts');

async function closeUnderRetry(mode: 'sdk' | 'closable'): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['--require', 'tsx/cjs', CHILD, mode], { timeout: 30_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, out: e.stdout ?? '' };
  }
}

test("the SDK's retry interceptor throws from its timer when a retry fires after close", async () => {
  const { code, out } = await closeUnderRetry('sdk');
  assert.equal(code, 3, out);
  assert.match(out, /UNCAUGHT Channel has been shut down/);
});

test('with closableRetry, close waits for the scheduled retry, and the call ends with its failure', async () => {
  const { code, out } = await closeUnderRetry('closable');
  assert.equal(code, 0, out);
  assert.match(out, /closed; the call rejected: .*UNAVAILABLE/);
  assert.match(out, /exited cleanly/);
  assert.doesNotMatch(out, /UNCAUGHT/);
});
