/**
 * The compatibility routes (shared/API.md "Compatibility routes"): thin adapters that let clients
 * of the original designs submit and follow ordinary batches. They translate shapes and nothing
 * more; every batch goes through the same use-case layer (src/batches) and workflow as /v1.
 */
import Router from '@koa/router';
import type { Batches } from '../../../batches';
import type { LiveHub } from '../../live/hub';
import { batchJobStreamRoute } from './batch-job-stream';
import { batchJobRoutes } from './batch-jobs';
import { bulkPartsRoutes } from './bulk-parts';
import { classifyBulkRoutes } from './classify-bulk';

/** `live` serves GET /batch/jobs/{job_id}/stream; without it that route is not mounted. */
export function compatRoutes(service: Batches, opts: { maxBodyBytes: number; live?: LiveHub }): Router {
  const router = new Router();
  classifyBulkRoutes(router, service, opts);
  batchJobRoutes(router, service, opts);
  if (opts.live) batchJobStreamRoute(router, service, opts.live);
  bulkPartsRoutes(router, service, opts);
  return router;
}
