import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { sourceRateLimits } from '../db/schema';
import { requireSource } from '../governance/source-settings';
import { ApiError } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { RefreshAheadCache } from '../lib/refresh-ahead';

/**
 * Collection-route rate limits, per source and per source and client IP, on the Workers Rate
 * Limiting binding. A source picks a tier; each tier is a pair of bindings (wrangler.toml), since a
 * binding's limit is fixed at deploy time. `off` is for trusted server sources that need no cap.
 */
export const RateTier = z
  .enum(['strict', 'standard', 'high', 'off'])
  .describe(
    'strict: 100 requests per 10 s per source, 20 per client IP; standard (default): 5,000 and 1,000; high: 50,000 and 10,000; off: no limit',
  );
export type RateTier = z.infer<typeof RateTier>;

type Limited = Exclude<RateTier, 'off'>;
const BINDINGS: Record<Limited, { source: keyof Env; ip: keyof Env }> = {
  strict: { source: 'RATE_LIMIT_SOURCE_STRICT', ip: 'RATE_LIMIT_IP_STRICT' },
  standard: { source: 'RATE_LIMIT_SOURCE', ip: 'RATE_LIMIT_IP' },
  high: { source: 'RATE_LIMIT_SOURCE_HIGH', ip: 'RATE_LIMIT_IP_HIGH' },
};
/** The bindings' period: the binding says only yes or no, so this is the honest wait. */
const PERIOD_SECONDS = 10;

// Every tier row, reloaded per isolate every few seconds: never a D1 read per request, and past
// half the TTL reloaded in the background while requests keep the cached rows (src/lib/refresh-ahead.ts).
const TTL_MS = 5_000;
const tiers = new RefreshAheadCache<'', Map<string, RateTier>>({ ttlMs: TTL_MS });

/** The tier of a source without one of its own: `RATE_LIMIT_DEFAULT_TIER`, else `standard`. */
function defaultTier(env: Cloudflare.Env): RateTier {
  const parsed = RateTier.safeParse(env.RATE_LIMIT_DEFAULT_TIER);
  return parsed.success ? parsed.data : 'standard';
}

async function tierOf(
  env: Cloudflare.Env,
  sourceId: string,
  keepAlive?: (p: Promise<unknown>) => void,
): Promise<RateTier> {
  const load = async () => {
    const rows = await db(env.DB).select().from(sourceRateLimits).all();
    return new Map(rows.map((r) => [r.sourceId, r.tier]));
  };
  const bySource = await tiers.get('', { load, keepAlive });
  return bySource.get(sourceId) ?? defaultTier(env);
}

/**
 * Throws a 429 with `Retry-After` when the source, or this client IP on it, is over its tier's
 * limit. SDKs back off on a 429 (Segment answers the same under its own limits). A missing
 * binding or a limiter error lets the request through: events are worth more than the cap.
 */
export async function enforceRateLimit(c: Context<{ Bindings: Cloudflare.Env }>, sourceId: string): Promise<void> {
  const keepAlive = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const tier = await tierOf(c.env, sourceId, keepAlive).catch(() => defaultTier(c.env));
  if (tier === 'off') return;
  const names = BINDINGS[tier];
  const ip = c.req.header('cf-connecting-ip');
  const checks: [keyof Env, string][] = [[names.source, sourceId]];
  if (ip) checks.push([names.ip, `${sourceId} ${ip}`]);
  for (const [name, key] of checks) {
    const limiter = c.env[name] as RateLimit | undefined;
    const ok = await limiter?.limit({ key }).then(
      (r) => r.success,
      () => true,
    );
    if (ok === false) {
      c.header('Retry-After', String(PERIOD_SECONDS));
      const what = name === names.source ? 'this source' : 'this client address';
      throw new ApiError(429, 'rate_limited', `Too many requests for ${what}; retry after ${PERIOD_SECONDS} s`);
    }
  }
}

const doc = apiDoc('Sources', {
  get: { summary: "A source's collection rate-limit tier", errors: [404] },
  put: { summary: "Set a source's collection rate-limit tier", body: z.object({ tier: RateTier }), errors: [404] },
});

/** `GET/PUT /api/sources/:id/rate-limit`. */
export const sourceRateLimitApi = new Hono<AdminEnv>()
  .get('/:id/rate-limit', doc.get, requireScope('sources:read'), async (c) => {
    const id = c.req.param('id');
    await requireSource(c.env.DB, id);
    tiers.clear();
    return c.json({ tier: await tierOf(c.env, id) });
  })
  .put('/:id/rate-limit', doc.put, requireScope('sources:write'), async (c) => {
    const id = c.req.param('id');
    const { tier } = await parseJson(c.req.raw, z.object({ tier: RateTier }));
    await requireSource(c.env.DB, id);
    const updatedAt = new Date().toISOString();
    await db(c.env.DB)
      .insert(sourceRateLimits)
      .values({ sourceId: id, tier, updatedAt })
      .onConflictDoUpdate({ target: sourceRateLimits.sourceId, set: { tier, updatedAt } });
    tiers.clear(); // at once in this isolate, within TTL_MS elsewhere
    return c.json({ tier });
  });
