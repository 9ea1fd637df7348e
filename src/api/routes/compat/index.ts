/**
 * The compatibility routes (docs/api.md "Compatibility routes"): thin adapters that let clients
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
export function compatRoutes(batches: Batches, opts: { maxBodyBytes: number; live?: LiveHub }): Router {
  const router = new Router();
  classifyBulkRoutes(router, batches, opts);
  batchJobRoutes(router, batches, opts);
  if (opts.live) batchJobStreamRoute(router, batches, opts.live);
  bulkPartsRoutes(router, batches, opts);
  return router;
}
