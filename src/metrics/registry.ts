/**
 * The process's Prometheus metrics. One registry per process, shared by the API and the worker:
 * `npm start` runs both in one process, so its /metrics shows everything; a production API process
 * fills the HTTP families, a worker process the activity, item and compensation ones (families a
 * process never touches are listed empty). Gauges read from the database are not here: they are
 * collected per scrape by whoever serves /metrics (see ./batches-gauge).
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpDuration = new Histogram({
  name: 'batchflow_http_request_duration_seconds',
  help: 'HTTP request latency, by method, route template (e.g. /v1/batches/:id) and status code.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const itemsTotal = new Counter({
  name: 'batchflow_items_total',
  help: 'Item outcomes recorded by the stage activities, by stage and outcome (succeeded, failed, needs_review, retried).',
  labelNames: ['stage', 'outcome'] as const,
  registers: [registry],
});

export const compensationsTotal = new Counter({
  name: 'batchflow_compensations_total',
  help: 'Items the rollback handled, by outcome: undone, or orphaned (the undo failed for good).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const progressQueriesTotal = new Counter({
  name: 'batchflow_progress_queries_total',
  help: "Progress queries this process sent to batches' workflows, by outcome (ok, failed, timeout: no answer within the query's 3 s deadline). Reads share one poller per batch, so this grows with the batches read, not the readers.",
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const activityDuration = new Histogram({
  name: 'batchflow_activity_duration_seconds',
  help: 'Activity execution time on this worker, by activity type and outcome (completed, failed, cancelled).',
  labelNames: ['activity', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});
