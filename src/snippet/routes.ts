import { Hono } from 'hono';
import { sourceForWriteKey } from '../ingest/sources';
import { notFound } from '../lib/errors';

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

/** First-party analytics.js: the script, its lazily loaded chunks and its CDN settings. */
export const snippet = new Hono<Env>()
  .get('/analytics.js/v1/:writeKey/analytics.min.js', async (c) => {
    if (!(await sourceForWriteKey(c.env.DB, c.req.param('writeKey')))) throw notFound('Write key');
    const res = await c.env.ASSETS.fetch(new URL('/analytics-next/bundles/standalone.js', c.req.url));
    if (!res.ok) throw notFound('analytics.js build (run `npm install` to vendor it)');
    return new Response(res.body, {
      headers: { 'content-type': 'application/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' },
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
    if (!(await sourceForWriteKey(c.env.DB, c.req.param('writeKey')))) throw notFound('Write key');
    c.header('access-control-allow-origin', '*');
    c.header('cache-control', 'public, max-age=60');
    return c.json(cdnSettings(c.req.param('writeKey'), new URL(c.req.url)));
  });
