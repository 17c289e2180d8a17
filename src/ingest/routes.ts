import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { badRequest, tooLarge } from '../lib/errors';
import { accept } from './accept';
import { readJsonBody } from './body';
import { pixelRoute } from './pixel';
import { type EventType, LIMITS } from './spec';

// Other areas read the write key the way the Tracking API does.
export { writeKeyOf } from './accept';

type Env = { Bindings: Cloudflare.Env };

/** Path → event type, including the one-letter forms analytics.js uses. */
const SINGLE: Record<string, EventType> = {
  track: 'track',
  t: 'track',
  identify: 'identify',
  i: 'identify',
  page: 'page',
  p: 'page',
  screen: 'screen',
  s: 'screen',
  group: 'group',
  g: 'group',
  alias: 'alias',
  a: 'alias',
};

/** The Segment Tracking API (`/v1/*`), byte-compatible with Segment's clients. */
export const trackingApi = new Hono<Env>();

// Browsers may call the collection routes from any site; only those answer a preflight, not every
// /v1 path (the server-side Profile API under /v1/spaces has its own auth in front).
const collectionCors = cors({
  origin: (origin) => origin || '*',
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['Authorization', 'Content-Type', 'Content-Encoding', 'X-Retry-Count'],
  maxAge: 86400,
});
for (const path of [...Object.keys(SINGLE), 'batch', 'b', 'import', 'pixel/*'])
  trackingApi.use(`/${path}`, collectionCors);

for (const [path, type] of Object.entries(SINGLE)) {
  trackingApi.post(`/${path}`, async (c) => {
    const body = await readJsonBody(c.req.raw, LIMITS.requestBytes);
    return accept(c, body, [body], type, 'single');
  });
}

for (const path of ['batch', 'b', 'import']) {
  trackingApi.post(`/${path}`, async (c) => {
    const body = await readJsonBody(c.req.raw, LIMITS.requestBytes);
    if (!Array.isArray(body.batch)) throw badRequest('`batch` must be an array of events');
    if (body.batch.length > LIMITS.batchEvents) {
      throw tooLarge(`A batch holds at most ${LIMITS.batchEvents} events`);
    }
    return accept(c, body, body.batch, undefined, 'batch');
  });
}

trackingApi.route('/pixel', pixelRoute(accept));
