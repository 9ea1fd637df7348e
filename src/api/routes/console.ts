/**
 * The web console: GET / (the page) and GET /console/{file} (its scripts and style), static files
 * from src/console with no build step. No key is needed for these; the page asks for one and sends
 * it on its own /v1 calls. A strict Content-Security-Policy keeps the page to its own origin and
 * its own script files (no inline script, no CDN), so it also works with no network but loopback.
 */
import fs from 'node:fs';
import path from 'node:path';
import Router from '@koa/router';
import type { Context } from 'koa';

const CONSOLE_DIR = path.resolve(__dirname, '..', '..', 'console');

/** The files served, by name: nothing else in the directory (or above it) can be reached. */
const FILES: Record<string, string> = Object.fromEntries(
  fs.readdirSync(CONSOLE_DIR).flatMap((name) => {
    if (name.endsWith('.js')) return [[name, 'text/javascript; charset=utf-8']];
    if (name.endsWith('.css')) return [[name, 'text/css; charset=utf-8']];
    return [];
  }),
);

// blob: for the export downloads the page saves; style attributes are not allowed, the page only sets
// styles through the CSSOM (the progress bar's width), which CSP does not restrict.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

function secure(ctx: Context): void {
  ctx.set('Content-Security-Policy', CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
}

export function consoleRoutes(): Router {
  const router = new Router();
  router.get('/', (ctx) => {
    secure(ctx);
    ctx.type = 'text/html; charset=utf-8';
    // The page is small and changes with each release: always revalidate.
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = fs.createReadStream(path.join(CONSOLE_DIR, 'index.html'));
  });
  router.get('/console/:file', (ctx, next) => {
    const type = FILES[ctx.params.file!];
    if (!type) return next();
    secure(ctx);
    ctx.type = type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = fs.createReadStream(path.join(CONSOLE_DIR, ctx.params.file!));
  });
  return router;
}
