import { type Context, Hono } from 'hono';
import { sourceForWriteKey } from '../ingest/sources';
import { ApiError, notFound } from '../lib/errors';
import { originCacheHeaders, type PublicOrigin, publicOrigin } from './origin';

type Env = { Bindings: Cloudflare.Env };

/** The analytics.js settings Segment's CDN would answer, pointing `Segment.io` at this Worker. */
export function cdnSettings(writeKey: string, origin: URL) {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost: `${origin.host}/v1`,
        protocol: origin.protocol.replace(':', ''),
        unbundledIntegrations: [],
        addBundledMetadata: true,
        maybeBundledConfigIds: {},
        versionSettings: { version: '4.4.7', componentTypes: ['browser'] },
      },
    },
    plan: {
      track: { __default: { enabled: true, integrations: {} } },
      identify: { __default: { enabled: true } },
      group: { __default: { enabled: true } },
    },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}

/**
 * A line run before analytics.js that tells it which CDN it came from. analytics.js finds its CDN
 * (settings URL, chunk path) in `window.analytics._cdn`, else by matching `https://…/analytics.js/v1/`
 * in the page's script tags, else falls back to cdn.segment.com. The regex needs https, so on
 * `http://` (wrangler dev, a LAN install) or behind a proxy that rewrites the path it would leak to
 * Segment; setting `_cdn` to the origin that served the script makes the standard snippet work
 * everywhere. A `_cdn` the page set itself (a custom CDN proxy) is left alone.
 */
export function cdnPrologue(origin: string): string {
  return `!function(){var s=document.currentScript,k=s&&s.getAttribute("data-global-segment-analytics-key")||"analytics",a=window[k];a&&!a._cdn&&(a._cdn=${JSON.stringify(origin)})}();\n`;
}

/** The origin to name in an answer: `PUBLIC_URL`, else the request's host if it is a plain one. */
function originOf(c: Context<Env>): PublicOrigin {
  const origin = publicOrigin(c.req.url, c.env.PUBLIC_URL);
  if (!origin) throw new ApiError(400, 'invalid_host', 'The Host header is not a valid hostname[:port]');
  return origin;
}

/** First-party analytics.js: the script, its lazily loaded chunks and its CDN settings. */
export const snippet = new Hono<Env>()
  .get('/analytics.js/v1/:writeKey/analytics.min.js', async (c) => {
    const origin = originOf(c);
    if (!(await sourceForWriteKey(c.env.DB, c.req.param('writeKey')))) throw notFound('Write key');
    const res = await c.env.ASSETS.fetch(new URL('/analytics-next/bundles/standalone.js', c.req.url));
    if (!res.ok) throw notFound('analytics.js build (run `npm install` to vendor it)');
    const body = cdnPrologue(origin.url.origin) + (await res.text());
    return new Response(body, {
      headers: { 'content-type': 'application/javascript; charset=utf-8', ...originCacheHeaders(origin, 300) },
    });
  })
  .get('/analytics-next/bundles/:file', async (c) => {
    const res = await c.env.ASSETS.fetch(c.req.raw);
    if (!res.ok) throw notFound(`Bundle ${c.req.param('file')}`);
    const headers = new Headers(res.headers);
    headers.set('access-control-allow-origin', '*');
    return new Response(res.body, { status: res.status, headers });
  })
  .get('/v1/projects/:writeKey/settings', async (c) => {
    const origin = originOf(c);
    if (!(await sourceForWriteKey(c.env.DB, c.req.param('writeKey')))) throw notFound('Write key');
    c.header('access-control-allow-origin', '*');
    for (const [name, value] of Object.entries(originCacheHeaders(origin, 60))) c.header(name, value);
    return c.json(cdnSettings(c.req.param('writeKey'), origin.url));
  });
