/**
 * Optional OpenTelemetry tracing through Temporal's interceptors: the client's workflow start and
 * signals, the workflow's own spans (exported through a sink, as workflow code cannot do I/O), and
 * every activity call, linked into one trace per batch. Off by default: nothing here is loaded
 * or registered unless BATCHFLOW_TRACING=otlp or OTEL_EXPORTER_OTLP_ENDPOINT is set, and then spans
 * go to OTLP/HTTP (the exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself).
 */
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { ClientInterceptors } from '@temporalio/client';
import type { ActivityInterceptorsFactory, WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';

export interface Tracing {
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Flushes and stops the exporter (call last on shutdown). */
  shutdown(): Promise<void>;
}

/** The workflow interceptors module: it must be bundled with the workflows (bundleWorkflows({ tracing: true })). */
export const workflowInterceptorsModule = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/**
 * A tracer provider registered as the process's global one (the interceptors use the global API).
 * `exporter` defaults to OTLP/HTTP; tests pass an in-memory one (`simple` exports each span at once).
 */
export function createTracing(opts: { serviceName: string; exporter?: SpanExporter; simple?: boolean }): Tracing {
  const exporter = opts.exporter ?? otlpExporter();
  const spanProcessor = opts.simple ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const resource = new Resource({ 'service.name': opts.serviceName });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager() });
  return { spanProcessor, resource, shutdown: () => provider.shutdown() };
}

function otlpExporter(): SpanExporter {
  // Loaded only when tracing is on: the default path does not pay for it.
  const { OTLPTraceExporter } =
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter();
}

/** Tracing per config, or undefined when it is off (the default). */
export function tracingFromConfig(config: Pick<Config, 'tracing'>, serviceName?: string): Tracing | undefined {
  const t = config.tracing;
  if (!t?.enabled) return undefined;
  return createTracing({ serviceName: serviceName ?? t.serviceName });
}

/** For `new Client({ interceptors })`. */
export const clientInterceptors = (): ClientInterceptors => ({ workflow: [new OpenTelemetryWorkflowClientInterceptor()] });

/** What a worker adds: activity spans, and the sink that exports the workflow's spans. */
export function workerTracing(tracing: Tracing): { activity: ActivityInterceptorsFactory; sinks: NonNullable<WorkerOptions['sinks']> } {
  return {
    activity: (ctx) => ({
      inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
      outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
    }),
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
