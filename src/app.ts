import { Hono } from 'hono';
import type { AdminEnv } from './admin/auth';
import { destinationsApi } from './admin/destinations';
import { sourcesApi } from './admin/sources';
import { personalizeApi } from './audiences/personalize';
import { audiencesApi, computedTraitsApi } from './audiences/routes';
import { identityApi } from './identity/routes';
import { ingestFailuresApi } from './ingest/dead-letters';
import { trackingApi } from './ingest/routes';
import { errorBody, onError } from './lib/errors';
import { openApiDoc, openApiHandler } from './lib/http/openapi';
import { profileApi } from './profiles/api';
import { profilesApi } from './profiles/routes';
import { snippet } from './snippet/routes';

/** The HTTP surface: Tracking API, snippet CDN, admin API. Each area is a sub-app. */
export const app = new Hono<AdminEnv>();

app.onError(onError);
app.notFound((c) => c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404));

app.get('/health', (c) => c.json({ ok: true }));
// Generated from the routes' own docs (hono-openapi reads them from app.routes on first request).
app.get('/api/openapi.json', openApiDoc, openApiHandler(app));
// The console is a static page that talks to the admin API with a token.
app.get('/', (c) => c.env.ASSETS.fetch(new URL('/console/', c.req.url)));
app.route('/', snippet);
app.route('/v1/spaces', profileApi);
app.route('/v1/personalize', personalizeApi);
app.route('/v1', trackingApi);
app.route('/api/sources', sourcesApi);
app.route('/api/ingest/failures', ingestFailuresApi);
app.route('/api/audiences', audiencesApi);
app.route('/api/computed-traits', computedTraitsApi);
app.route('/api/destinations', destinationsApi);
app.route('/api/identity', identityApi);
app.route('/api/profiles', profilesApi);
