/**
 * `npm run demo:big -- [items] [chunk_size] [max_parallel_chunks]`: submits a large JSON batch to a
 * running stack (`npm start`), waits for it, and prints the wall time and every run's history size.
 * Without chunk_size or max_parallel_chunks the server chooses them (docs/api.md, "Default
 * chunking"). Not a test: it is how the foundation's 50,000-item figure was measured; `npm run
 * bench` (later) supersedes it.
 *
 * Env: BATCHFLOW_URL (http://localhost:3000), BATCHFLOW_KEY (else .data/dev-api-key),
 * TEMPORAL_ADDRESS (localhost:7233).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 50_000);
  const [chunkSize, parallel] = [process.argv[3], process.argv[4]].map((a) => (a === undefined ? undefined : Number(a)));
  const base = process.env.BATCHFLOW_URL ?? 'http://localhost:3000';
  const key =
    process.env.BATCHFLOW_KEY ?? fs.readFileSync(path.join(process.env.BATCHFLOW_DATA_DIR ?? '.data', 'dev-api-key'), 'utf8').trim();
  const texts = ['cotton t-shirt crew neck', 'leather oxford shoes', 'laptop computer', 'wooden dining chair', 'plush toy puzzle'];
  const body = JSON.stringify({
    items: Array.from({ length: total }, (_, i) => ({ ref: `demo-${i}`, text: texts[i % texts.length] })),
    chunk_size: chunkSize,
    max_parallel_chunks: parallel,
  });

  const t0 = performance.now();
  const res = await fetch(`${base}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body,
  });
  const submitted = (await res.json()) as { batch_id: string; workflow_id: string; options: Record<string, unknown> };
  const submitMs = performance.now() - t0;
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(submitted)}`);
  const { chunk_size, max_parallel_chunks } = submitted.options;
  console.log(`submitted ${total} items (${(body.length / 1e6).toFixed(1)} MB) in ${submitMs.toFixed(0)} ms: ${submitted.batch_id}`);
  console.log(`chunking: ${String(chunk_size)} items per chunk, ${String(max_parallel_chunks)} in flight`);

  let final: { status: string; counts: Record<string, number> };
  for (;;) {
    final = (await (await fetch(`${base}/v1/batches/${submitted.batch_id}`, { headers: { 'x-api-key': key } })).json()) as typeof final;
    if (['completed', 'partial', 'failed', 'cancelled'].includes(final.status)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${final.status} in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)} items/s): ${JSON.stringify(final.counts)}`);

  const client = new Client({ connection: await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? 'localhost:7233' }) });
  const runs: Array<{ runId: string; events: number; bytes: number }> = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId = "${submitted.workflow_id}"` })) {
    const d = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    runs.push({ runId: wf.runId, events: d.historyLength, bytes: d.historySize ?? 0 });
  }
  const largest = runs.reduce((a, r) => (r.events > a.events ? r : a), runs[0]!);
  console.log(`${runs.length} runs; largest history ${largest.events} events, ${(largest.bytes / 1024).toFixed(0)} KiB`);
  await client.connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
