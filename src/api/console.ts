import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import express, { Router, type RequestHandler, type Response } from 'express';
import { HearthError } from '../errors.js';
import { packageRoot } from '../paths.js';

/** Where `npm run build:console` (run by `prepare`) writes the console from src/console. */
export const consoleBuildDir: string = join(packageRoot, 'dist', 'console');

/** What src/console/index.html holds where each answer's style nonce goes. */
const NONCE_PLACEHOLDER = '__HEARTH_STYLE_NONCE__';

// The console's pages (see src/console/App.tsx): the page is chosen in the browser, so each of
// these paths answers the same index.html. A path with a dot is a file, never a page, so a
// missing asset is a 404 rather than HTML where a script was expected.
const PAGE_PATH = /^\/admin\/(?!assets(?:\/|$))(?:[A-Za-z0-9_-]+\/?)?$/;

/**
 * Every answer under /admin/: no framing (clickjacking a console that revokes keys), no MIME
 * sniffing, and no Referer, so the console's URLs never reach another site.
 */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', policy());
  next();
};

/**
 * Everything from this origin only; no inline script at all. Mantine writes <style> elements
 * (its theme variables and responsive rules, the AppShell's widths at each breakpoint) and
 * modals add one to stop the page scrolling, so the page's policy allows <style> elements that
 * carry this answer's nonce rather than 'unsafe-inline'.
 */
function policy(styleNonce?: string): string {
  return [
    "default-src 'self'",
    styleNonce === undefined ? undefined : `style-src 'self' 'nonce-${styleNonce}'`,
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
  ]
    .filter(Boolean)
    .join('; ');
}

/**
 * The operator's console and the playground at /admin/: the browser app built from src/console,
 * every file from this daemon (no CDN, font or telemetry request). It drives the admin API under
 * /api/admin and the OpenAI API under /v1 like any other client, with no access of its own.
 */
export function createConsoleRouter(dir: string = consoleBuildDir): Router {
  const router = Router({ caseSensitive: true, strict: true });

  const page = async (res: Response) => {
    let html: string;
    try {
      html = await readFile(join(dir, 'index.html'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new HearthError('unavailable', `the console is not built (no ${join(dir, 'index.html')}): run npm run build:console`, { code: 'console_not_built' });
    }
    const nonce = randomBytes(16).toString('base64');
    res.setHeader('Content-Security-Policy', policy(nonce));
    // Always asked again: a new build names new asset files.
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(html.replaceAll(NONCE_PLACEHOLDER, nonce));
  };

  router.get(/^\/admin$/, (req, res) => {
    const q = req.originalUrl.indexOf('?');
    res.redirect(301, `/admin/${q === -1 ? '' : req.originalUrl.slice(q)}`);
  });
  router.use('/admin', securityHeaders);
  router.get(PAGE_PATH, (_req, res) => page(res));
  // The built index.html holds the nonce placeholder, never to be served as it is.
  router.get('/admin/index.html', (_req, res) => page(res));
  // Vite names each asset by its content's hash: a file never changes under its name.
  router.use('/admin/assets', express.static(join(dir, 'assets'), { index: false, redirect: false, immutable: true, maxAge: '365d' }));
  // The rest of the build (the icon) keeps its name from build to build.
  router.use('/admin', express.static(dir, { index: false, redirect: false, maxAge: '1h' }));
  return router;
}
