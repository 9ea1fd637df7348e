/**
 * OpenTelemetry tracing: off unless configured, and when on, one batch leaves a trace that starts
 * at the API's workflow start and reaches the workflow and its activities on the worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { clientInterceptors, createTracing, tracingFromConfig } from '../../src/tracing';
import { items, startStack, waitForBatch } from '../helpers/stack';
import { connectTemporal } from '../helpers/temporal';
import { eventually, submit } from '../helpers/api';

test('tracing is off by default; OTEL_EXPORTER_OTLP_ENDPOINT or BATCHFLOW_TRACING=otlp turns it on; BATCHFLOW_TRACING=off wins', () => {
  assert.equal(loadConfig({}).tracing?.enabled, false);
  assert.equal(tracingFromConfig(loadConfig({})), undefined);
  assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing?.enabled, true);
  assert.equal(loadConfig({ BATCHFLOW_TRACING: 'otlp' }).tracing?.enabled, true);
  assert.equal(loadConfig({ BATCHFLOW_TRACING: 'off', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing?.enabled, false);
  assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing?.enabled, false, 'an empty variable is unset');
});

test(
  'with tracing on, a batch produces spans for the workflow start, the workflow run and each stage activity, in one trace',
  { timeout: 240_000 },
  async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing({ serviceName: 'batchflow-test', exporter, simple: true });
    const temporal = await connectTemporal();
    const client = new Client({
      connection: temporal.client.connection,
      namespace: temporal.namespace,
      interceptors: clientInterceptors(),
    });
    const stack = await startStack({ tracing, temporalClient: client });
    try {
      const batchId = await submit(stack, { items: items(6), chunk_size: 3 });
      const ended = await waitForBatch(stack, batchId);
      assert.equal(ended.status, 'completed');

      const names = (): string[] => exporter.getFinishedSpans().map((s) => s.name);
      // The workflow's spans reach the exporter through a sink, after the activation that ends them.
      await eventually(
        'the last spans',
        () => names().includes('RunActivity:finishBatch') && names().includes('RunWorkflow:batchWorkflow'),
        30_000,
      );
      const spans = exporter.getFinishedSpans();
      const start = spans.find((s) => s.name === 'StartWorkflow:batchWorkflow');
      assert.ok(start, `a StartWorkflow span: ${names().join(', ')}`);
      const trace = spans.filter((s) => s.spanContext().traceId === start.spanContext().traceId).map((s) => s.name);
      assert.ok(trace.includes('RunWorkflow:batchWorkflow'), `the workflow's own span in the trace: ${trace.join(', ')}`);
      for (const activity of ['classify', 'ingest', 'publish']) {
        assert.equal(trace.filter((n) => n === `RunActivity:${activity}`).length, 2, `${activity}: one span per chunk`);
        assert.ok(trace.includes(`StartActivity:${activity}`), `the workflow's schedule of ${activity}`);
      }
    } finally {
      await stack.stop();
      await temporal.close();
      await tracing.shutdown();
    }
  },
);
