import { Hono } from 'hono';
import type { AdminEnv } from '../admin/auth';

/**
 * Headers of every console response. The CSP allows scripts and styles from this origin only (no
 * inline script, no eval), so even a value that slipped into the DOM as markup could not run;
 * the page may not be framed (clickjacking) and sends no referrer to other sites.
 */
export const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cross-origin-opener-policy': 'same-origin',
};

async function asset(env: Cloudflare.Env, url: URL): Promise<Response> {
  const res = await env.ASSETS.fetch(url);
  const out = new Response(res.body, res);
  for (const [k, v] of Object.entries(CONSOLE_HEADERS)) out.headers.set(k, v);
  // The page and its scripts change with each deploy; the browser revalidates them.
  out.headers.set('cache-control', 'no-cache');
  return out;
}

/** The console: a static single-page app from `assets/console/`; its pages are `/#/…` routes. */
export const consoleApp = new Hono<AdminEnv>()
  .get('/', (c) => asset(c.env, new URL('/console/', c.req.url)))
  .get('/console/*', (c) => asset(c.env, new URL(c.req.path, c.req.url)));
