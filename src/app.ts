import { Hono } from 'hono';
import type { AdminEnv } from './admin/auth';
import { destinationsApi } from './admin/destinations';
import { sourcesApi } from './admin/sources';
import { tokensApi } from './admin/tokens';
import { replaysApi } from './archive/replay-routes';
import { archiveApi } from './archive/routes';
import { personalizeApi } from './audiences/personalize';
import { audiencesApi, computedTraitsApi } from './audiences/routes';
import { workFailuresApi } from './audiences/work-failures';
import { liveApi } from './console/live-routes';
import { consoleApp } from './console/routes';
import { sessionApi } from './console/session-routes';
import { sourceFunctionsApi } from './functions/public';
import { functionsApi } from './functions/routes';
import { sourceGovernanceApi, trackingPlansApi } from './governance/routes';
import { transformationsApi } from './governance/transformation-routes';
import { identityApi } from './identity/routes';
import { ingestFailuresApi } from './ingest/dead-letters';
import { rejectedKeysApi } from './ingest/rejected-keys';
import { trackingApi } from './ingest/routes';
import { insightsApi } from './insights/routes';
import { errorBody, onError } from './lib/errors';
import { openApiDoc, openApiHandler } from './lib/http/openapi';
import { auditApi } from './privacy/audit-routes';
import { auditTrail } from './privacy/audit-trail';
import { privacySettingsApi } from './privacy/pii-settings';
import { sourceRateLimitApi } from './privacy/rate-limit';
import { regulationsApi, suppressionsApi } from './privacy/regulation-routes';
import { segmentProfileApi } from './profiles/api';
import { profileDirectoryApi } from './profiles/routes';
import { snippet } from './snippet/routes';
import { usageApi } from './usage/routes';

/** The HTTP surface: Tracking API, snippet CDN, admin API. Each area is a sub-app. */
export const app = new Hono<AdminEnv>();

app.onError(onError);
app.notFound((c) => c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404));

// Every change under /api (and every privileged read) lands in the hash-chained audit log.
app.use(
  '/api/*',
  auditTrail((req, env, ctx) => app.fetch(req, env, ctx)),
);

app.get('/health', (c) => c.json({ ok: true }));
// Generated from the routes' own docs (hono-openapi reads them from app.routes on first request).
app.get('/api/openapi.json', openApiDoc, openApiHandler(app));
// The console: a static single-page app (assets/console/) signed in with a session cookie.
app.route('/', consoleApp);
app.route('/api/session', sessionApi);
app.route('/', snippet);
app.route('/v1/spaces', segmentProfileApi);
app.route('/v1/personalize', personalizeApi);
app.route('/v1/functions', sourceFunctionsApi);
app.route('/v1', trackingApi);
app.route('/api/sources', sourcesApi);
app.route('/api/sources', sourceGovernanceApi);
app.route('/api/sources', liveApi);
app.route('/api/tracking-plans', trackingPlansApi);
app.route('/api/transformations', transformationsApi);
app.route('/api/ingest/failures', ingestFailuresApi);
app.route('/api/work/failures', workFailuresApi);
app.route('/api/ingest/rejected-keys', rejectedKeysApi);
app.route('/api/audiences', audiencesApi);
app.route('/api/computed-traits', computedTraitsApi);
app.route('/api/destinations', destinationsApi);
app.route('/api/identity', identityApi);
app.route('/api/profiles', profileDirectoryApi);
app.route('/api/tokens', tokensApi);
app.route('/api/audit', auditApi);
app.route('/api/insights', insightsApi);
app.route('/api/functions', functionsApi);
app.route('/api/regulations', regulationsApi);
app.route('/api/suppressions', suppressionsApi);
app.route('/api/archive', archiveApi);
app.route('/api/replays', replaysApi);
app.route('/api/privacy/settings', privacySettingsApi);
app.route('/api/sources', sourceRateLimitApi);
app.route('/api/usage', usageApi);
