import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { governEvents, recordGovernance } from '../governance/enforce';
import { ApiError, badRequest, tooLarge, unauthorized } from '../lib/errors';
import type { JsonObject } from '../lib/json';
import { enforceRateLimit } from '../privacy/rate-limit';
import { readJsonBody } from './body';
import { collect } from './collect';
import { enqueueIngest } from './enqueue';
import { pixelFromDevice } from './enrich';
import { liveTap } from './live-tap';
import { pixelRoute } from './pixel';
import { countRejected } from './rejected-keys';
import { type KeyLookup, lookupWriteKey } from './sources';
import { type EventType, type IngestMessage, LIMITS } from './spec';

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

/** Write key as Basic username (Segment's servers and SDKs) or `writeKey` in the body (browsers). */
export function writeKeyOf(req: Request, body: JsonObject): string | undefined {
  const auth = req.headers.get('authorization');
  if (auth?.toLowerCase().startsWith('basic ')) {
    try {
      const decoded = atob(auth.slice(6).trim());
      const user = decoded.split(':')[0];
      if (user) return user;
    } catch {
      throw unauthorized('Authorization header is not valid Basic credentials');
    }
  }
  return typeof body.writeKey === 'string' && body.writeKey ? body.writeKey : undefined;
}

/**
 * Authenticates, validates, enriches and makes durable. Answers 2xx only once the events are in
 * the ingest queue; the debugger is written after the answer. `batch` mode merges the body's
 * batch-level fields into each item; `pixel` is a single event loaded by the user's device.
 */
async function accept(
  c: Context<Env>,
  body: JsonObject,
  items: unknown[],
  forcedType: EventType | undefined,
  mode: 'single' | 'batch' | 'pixel',
) {
  const writeKey = writeKeyOf(c.req.raw, body);
  if (!writeKey) throw unauthorized('Missing write key: send it as the Basic username or as `writeKey`');
  const match = await lookupWriteKey(c.env.DB, writeKey);
  if (!match.source) return dropForKey(c, writeKey, match, items.length);
  const { source } = match;
  await enforceRateLimit(c, source.id); // 429 + Retry-After over the source's tier (src/privacy)

  const req = c.req.raw;
  const ip = req.headers.get('cf-connecting-ip') ?? req.headers.get('x-real-ip') ?? undefined;
  const cf = (req as { cf?: Record<string, unknown> }).cf;
  const fromDevice = mode === 'pixel' && pixelFromDevice(req.headers.get('user-agent'));
  const facts = { receivedAt: new Date(), ip, cf, fromDevice };
  const result = collect(items, facts, { forcedType, batch: mode === 'batch' ? body : undefined });
  // The source's tracking plan: blocked events are dropped here, before anything is stored; the
  // answer to the client does not change (Segment's SDKs must not retry over governance).
  const governed = await governEvents(c.env.DB, source.id, result.accepted, result.debug);
  c.executionCtx.waitUntil(
    liveTap(c.env, source.id)
      .record(
        match.key === 'previous' ? result.debug.map((e) => ({ ...e, writeKey: 'previous' as const })) : result.debug,
      )
      .catch((err) => console.warn('debugger write failed', err)),
  );
  c.executionCtx.waitUntil(recordGovernance(c.env.DB, source.id, result.accepted, governed));

  if (mode !== 'batch' && result.rejected.length) {
    const r = result.rejected[0];
    throw new ApiError(r.code === 'event_too_large' ? 413 : 400, r.code, r.message);
  }
  const messages: IngestMessage[] = [
    ...governed.accepted.map((event) => ({ sourceId: source.id, event })),
    ...governed.extra,
  ];
  try {
    await enqueueIngest(c.env.INGEST_QUEUE, messages);
  } catch (err) {
    console.error('enqueue failed', err);
    throw new ApiError(503, 'unavailable', 'Events could not be stored; retry the request');
  }
  if (!result.rejected.length) return c.json({ success: true });
  return c.json({ success: true, accepted: result.accepted.length, rejected: result.rejected });
}

/**
 * An unknown, disabled or retired write key: answered 200 and dropped, as Segment does, because
 * SDKs such as the legacy analytics-node crash their host process on a 4xx. Counted for
 * `GET /api/ingest/rejected-keys` after the response.
 */
function dropForKey(c: Context<Env>, writeKey: string, refused: Extract<KeyLookup, { source: null }>, events: number) {
  const { reason, sourceId } = refused;
  const userAgent = c.req.header('user-agent');
  c.executionCtx.waitUntil(countRejected(c.env.DB, { writeKey, reason, sourceId, events, userAgent, at: new Date() }));
  return c.json({ success: true });
}

export type AcceptFn = typeof accept;
