import { Hono } from 'hono';
import type { AdminEnv } from './admin/auth';
import { sourcesApi } from './admin/sources';
import { trackingApi } from './ingest/routes';
import { errorBody, onError } from './lib/errors';
import { snippet } from './snippet/routes';

/** The HTTP surface: Tracking API, snippet CDN, admin API. Each area is a sub-app. */
export const app = new Hono<AdminEnv>();

app.onError(onError);
app.notFound((c) => c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404));

app.get('/health', (c) => c.json({ ok: true }));
// The console is a static page that talks to the admin API with a token.
app.get('/', (c) => c.env.ASSETS.fetch(new URL('/console/', c.req.url)));
app.route('/', snippet);
app.route('/v1', trackingApi);
app.route('/api/sources', sourcesApi);
