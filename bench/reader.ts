/**
 * The progress reader, in a process of its own (forked by bench/batchflow-scenario.ts). The bench
 * process also serves the publish target, a thousand or more calls a second, and a read timed on
 * that busy event loop measured the bench's own lag as much as the API's. Here nothing else runs:
 * the parent sends `{ url, key }`, this reads it every READ_EVERY_MS until told `stop`, and answers
 * the latencies of the reads it made.
 */
const READ_EVERY_MS = 250;
/** A read that takes longer fails the row: the API is stuck, not slow. */
const READ_TIMEOUT_MS = 30_000;

type Message = { url: string; key: string } | 'stop';

const latencies: number[] = [];
let stopped = false;

async function readLoop(url: string, key: string): Promise<void> {
  // Untimed: Node loads its fetch (undici) on the first call and opens the keep-alive connection;
  // a polling client has done both long before its hundredth read, and neither is the API's time.
  const warm = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
  await warm.arrayBuffer();
  while (!stopped) {
    const t0 = performance.now();
    const res = await fetch(url, { headers: { 'x-api-key': key }, signal: AbortSignal.timeout(READ_TIMEOUT_MS) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
    if (!stopped) latencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, READ_EVERY_MS));
  }
}

let loop: Promise<void> = Promise.resolve();
process.on('message', (m: Message) => {
  if (m === 'stop') {
    stopped = true;
    void loop.then(
      () => process.send!({ latencies }, () => process.exit(0)),
      (err: unknown) => process.send!({ error: String(err) }, () => process.exit(1)),
    );
  } else {
    loop = readLoop(m.url, m.key);
    loop.catch(() => undefined);
  }
});
process.send!('ready');
