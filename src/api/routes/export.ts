/** GET /v1/batches/{id}/export: every item result as a download, streamed in constant memory. */
/** The longest one download may take: a 50,000-item export is written in seconds. */
export const EXPORT_MAX_MS = 10 * 60_000;
import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { ExportQuery } from '../../contracts/http';
import type { Batches } from '../../batches';
import { FORMATS } from '../../export/formats';
import { notFound } from '../../errors';
import { parse } from '../validate';

/**
 * Bytes the response stream buffers before it stops pulling the next page: with one page or row
 * group already encoded, the database is not read again until the client has taken most of it.
 */
const STREAM_HIGH_WATER_BYTES = 64 * 1024;

export function exportRoutes(batches: Pick<Batches, 'exportOf'>, log: Logger): Router {
  const router = new Router({ prefix: '/v1/batches' });

  router.get('/:id/export', async (ctx) => {
    const { format } = parse(ExportQuery, ctx.query);
    const found = await batches.exportOf(ctx.state.tenantId as string, ctx.params.id!);
    if (!found) throw notFound();
    const { batch, pages } = found;
    const f = FORMATS[format];
    const chunks = f.render(pages, {
      batch_id: batch.id,
      status: batch.status,
      total_items: batch.total_items,
      metadata: batch.metadata,
      exported_at: new Date().toISOString(),
    });

    const requestId = ctx.state.requestId as string;
    // Headers are gone by the time a page fails: the failure can only cut the download short
    // (Koa's pipeline destroys the response), so it is logged here, where the request id is known.
    // A download that takes longer than EXPORT_MAX_MS (a client reading a byte a second) is cut
    // short rather than holding a connection and a cursor without end.
    const deadline = Date.now() + EXPORT_MAX_MS;
    async function* logged(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of chunks) {
          if (Date.now() > deadline) throw new Error(`export took longer than ${EXPORT_MAX_MS / 60_000} minutes; cut short`);
          yield chunk;
        }
      } catch (err) {
        log.error({ err, requestId, batchId: batch.id, format }, 'export failed mid-stream');
        throw err;
      }
    }
    ctx.body = Readable.from(logged(), { objectMode: false, highWaterMark: STREAM_HIGH_WATER_BYTES });
    ctx.set('Content-Type', f.contentType);
    ctx.set('Content-Disposition', `attachment; filename="${batch.id}.${f.ext}"`);
    ctx.set('Cache-Control', 'no-store');
  });

  return router;
}
