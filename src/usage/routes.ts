import { and, gte, lt, sql } from 'drizzle-orm';
import { unionAll } from 'drizzle-orm/sqlite-core';
import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { usageCounters, usageHours } from '../db/usage-schema';
import { ApiError, badRequest } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';
import { flushUsage } from './flush';
import { sumsFromKeys } from './hours';
import { pricesFrom } from './prices';
import { buildReport } from './report';

const HOUR = 3_600_000;
const MAX_RANGE_DAYS = 400;

function instant(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const t = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(t)) throw badRequest(`\`${name}\` must be an ISO-8601 time or milliseconds since 1970`);
  return t;
}

const doc = apiDoc('Usage', {
  get: {
    summary: 'Billable units per 1,000 events and estimated dollars under Cloudflare list prices',
    description:
      'Hours are the unit of time: `from` rounds down and `to` up to whole hours (UTC). Counters are written by each ' +
      'isolate at most every `USAGE_FLUSH_SECONDS` (60), so the last minute may be missing. Prices: list prices ' +
      'per million units (src/usage/prices.ts), overridden by the `USAGE_PRICES` var.',
    query: {
      from: 'Start, ISO-8601 or epoch ms (default: 24 hours ago)',
      to: 'End, ISO-8601 or epoch ms (default: now)',
      groupBy: '`stage` (default) or `source`',
    },
  },
  flush: {
    summary:
      "Writes this isolate's usage counters now (benchmarks and tests; production flushes on its own); 503 when the write failed (the counters are kept)",
    status: 204,
  },
});

/** `/api/usage`: what the pipeline cost, from the usage meter. */
export const usageApi = new Hono<AdminEnv>()
  .get('/', doc.get, requireScope('sources:read'), async (c) => {
    const now = Date.now();
    const to = instant(c.req.query('to'), now, 'to');
    const from = instant(c.req.query('from'), to - 24 * HOUR, 'from');
    if (from > to) throw badRequest('`from` must not be after `to`');
    if (to - from > MAX_RANGE_DAYS * 24 * HOUR) throw badRequest(`A range spans at most ${MAX_RANGE_DAYS} days`);
    const groupBy = c.req.query('groupBy') ?? 'stage';
    if (groupBy !== 'stage' && groupBy !== 'source') throw badRequest('`groupBy` must be `stage` or `source`');
    const fromHour = Math.floor(from / HOUR);
    const toHour = Math.ceil(to / HOUR);
    const endHour = Math.max(toHour, fromHour + 1);
    // Summed in SQL over the hours' JSON, so the answer is one row per counter, not per hour. Plus
    // the rows of usage_counters, which only an isolate of the version before migration 0019 can
    // have written (0019 moved and deleted the rest): same keys (json_array), counted once.
    const h = usageHours;
    const old = usageCounters;
    const d = db(c.env.DB);
    const counters = unionAll(
      d
        .select({ key: sql<string>`j.key`.as('key'), n: sql<number>`j.value`.as('n') })
        .from(sql`${h}, json_each(${h.counts}) AS j`)
        .where(and(gte(h.hour, fromHour), lt(h.hour, endHour))),
      d
        .select({
          key: sql<string>`json_array(${old.stage}, ${old.source}, ${old.unit}, ${old.detail})`.as('key'),
          n: sql<number>`${old.n}`.as('n'),
        })
        .from(old)
        .where(and(gte(old.hour, fromHour), lt(old.hour, endHour))),
    ).as('counters');
    const keyed = await d
      .select({ key: counters.key, n: sql<number>`sum(${counters.n})` })
      .from(counters)
      .groupBy(sql`${counters.key}`)
      .all();
    const sums = sumsFromKeys(keyed);
    const prices = pricesFrom(c.env.USAGE_PRICES);
    const report = buildReport(sums, groupBy, prices);
    return c.json({
      from: new Date(fromHour * HOUR).toISOString(),
      to: new Date(endHour * HOUR).toISOString(),
      groupBy,
      ...report,
      pricesPerMillion: prices,
    });
  })
  .post('/flush', doc.flush, requireScope('sources:read'), async (c) => {
    // A benchmark reading the report next must not take a failed write for "nothing happened".
    if (!(await flushUsage(c.env.DB)))
      throw new ApiError(
        503,
        'unavailable',
        'The usage counters could not be written; they are kept for the next flush',
      );
    return c.body(null, 204);
  });
