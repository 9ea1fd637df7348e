/**
 * GET /metrics: Prometheus text. An operations route like /healthz: no API key. It names no tenant
 * and no secret, but it is for the scraper on the private network, not for the internet: keep it
 * off the public ingress.
 */
import Router from '@koa/router';
import type { Scraper } from '../../metrics/scrape';

export function metricsRoutes(scraper: Scraper): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.type = scraper.contentType;
    ctx.body = await scraper.text();
  });
  return router;
}
