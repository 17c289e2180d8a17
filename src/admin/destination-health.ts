import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { db } from '../db/client';
import { type DeliveryFailureRow, deliveryFailures } from '../db/destinations-schema';
import { deliveryConfig } from '../delivery/config';
import { binValue } from '../delivery/log';
import type { DeliveryAttempt } from '../delivery/messages';
import type { EnrichedEvent } from '../ingest/spec';
import { batchInChunks } from '../lib/d1';
import { ApiError, badRequest } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { sendJson } from '../lib/queue';
import { piiReader, protectEvent } from '../privacy/pii-access';
import { type AdminEnv, requireScope } from './auth';
import { loadDestination } from './destination-config';

interface StatRow {
  minute: number;
  delivered: number;
  retried: number;
  failed: number;
  filtered: number;
  retry_started: number;
  retry_resolved: number;
}

/** The value below which `q` of the histogram's samples fall. */
export function quantile(bins: Map<number, number>, q: number): number | null {
  const total = [...bins.values()].reduce((a, b) => a + b, 0);
  if (!total) return null;
  let seen = 0;
  for (const bin of [...bins.keys()].sort((a, b) => a - b)) {
    seen += bins.get(bin) ?? 0;
    if (seen >= q * total) return binValue(bin);
  }
  return null;
}

/** Per destination: counters and latency p50/p95, in total and per interval, plus events still retrying. */
async function health(env: Cloudflare.Env, id: string, hours: number, intervalMinutes: number) {
  const nowMinute = Math.floor(Date.now() / 60_000);
  const from = nowMinute - hours * 60;
  const retryFrom = nowMinute - Math.ceil(deliveryConfig(env).retryWindowSeconds / 60) - 60;
  const since = Math.min(from, retryFrom);
  const [stats, latency] = await env.DB.batch([
    env.DB.prepare('SELECT * FROM delivery_stats WHERE destination_id = ? AND minute >= ? ORDER BY minute').bind(
      id,
      since,
    ),
    env.DB.prepare('SELECT minute, bin, count FROM delivery_latency WHERE destination_id = ? AND minute >= ?').bind(
      id,
      from,
    ),
  ]);
  const rows = stats.results as unknown as StatRow[];
  const bins = latency.results as unknown as { minute: number; bin: number; count: number }[];
  const bucketOf = (minute: number) => from + Math.floor((minute - from) / intervalMinutes) * intervalMinutes;
  const series = new Map<
    number,
    { delivered: number; retried: number; failed: number; filtered: number; bins: Map<number, number> }
  >();
  for (let m = from; m <= nowMinute; m += intervalMinutes) {
    series.set(m, { delivered: 0, retried: 0, failed: 0, filtered: 0, bins: new Map() });
  }
  const total = { delivered: 0, retried: 0, failed: 0, filtered: 0 };
  let retrying = 0;
  for (const r of rows) {
    retrying += r.retry_started - r.retry_resolved;
    if (r.minute < from) continue;
    const s = series.get(bucketOf(r.minute));
    for (const k of ['delivered', 'retried', 'failed', 'filtered'] as const) {
      total[k] += r[k];
      if (s) s[k] += r[k];
    }
  }
  const allBins = new Map<number, number>();
  for (const b of bins) {
    allBins.set(b.bin, (allBins.get(b.bin) ?? 0) + b.count);
    const s = series.get(bucketOf(b.minute));
    s?.bins.set(b.bin, (s.bins.get(b.bin) ?? 0) + b.count);
  }
  return {
    destinationId: id,
    window: { from: new Date(from * 60_000).toISOString(), to: new Date().toISOString(), intervalMinutes },
    totals: { ...total, p50Ms: quantile(allBins, 0.5), p95Ms: quantile(allBins, 0.95) },
    retrying: Math.max(0, retrying),
    series: [...series].map(([m, s]) => ({
      at: new Date(m * 60_000).toISOString(),
      delivered: s.delivered,
      retried: s.retried,
      failed: s.failed,
      filtered: s.filtered,
      p95Ms: quantile(s.bins, 0.95),
    })),
  };
}

function failureView(f: DeliveryFailureRow) {
  return {
    messageId: f.messageId,
    sourceId: f.sourceId,
    type: f.eventType,
    name: f.eventName,
    status: f.status,
    error: f.error,
    response: f.response,
    attempts: f.attempts,
    firstAttemptAt: f.firstAttemptAt,
    failedAt: f.failedAt,
    replayedAt: f.replayedAt,
    replayCount: f.replayCount,
    event: JSON.parse(f.event) as EnrichedEvent,
  };
}

const ReplayInput = z
  .object({
    messageIds: z.array(z.string().min(1)).max(1000).optional().describe('Failed events to send again'),
    all: z.boolean().optional().describe('Replay every recorded failure (up to 1000 per call)'),
  })
  .refine((r) => r.all === true || (r.messageIds?.length ?? 0) > 0, 'give messageIds or all: true');

const doc = apiDoc('Destinations', {
  health: {
    summary: 'Delivery health over time: attempts, failures, latency per bucket',
    query: { hours: 'Window in hours, 1–720 (default 24)', interval: 'Bucket in minutes, 1–1440 (default 60)' },
    errors: [404],
  },
  failures: {
    summary: 'Dead-lettered deliveries, newest first',
    query: { limit: '1–500 (default 50)', before: 'A failedAt cursor: `next` of the previous page' },
    errors: [404],
  },
  replay: { summary: 'Replay dead-lettered deliveries', body: ReplayInput, status: 202, errors: [404, 409] },
});

/** Health, the dead-letter record and replay, under `/api/destinations/:id/…`. */
export const destinationHealthApi = new Hono<AdminEnv>()
  .get('/:id/health', doc.health, requireScope('destinations:read'), async (c) => {
    const { row } = await loadDestination(c.env, c.req.param('id'));
    const hours = queryInt(c.req.query('hours'), 'hours', { fallback: 24, min: 1, max: 24 * 30 });
    const interval = queryInt(c.req.query('interval'), 'interval', { fallback: 60, min: 1, max: 24 * 60 });
    return c.json(await health(c.env, row.id, hours, interval));
  })
  .get('/:id/failures', doc.failures, requireScope('destinations:read'), async (c) => {
    const { row } = await loadDestination(c.env, c.req.param('id'));
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 50, min: 1, max: 500 });
    const before = c.req.query('before');
    const where = before
      ? and(eq(deliveryFailures.destinationId, row.id), lt(deliveryFailures.failedAt, before))
      : eq(deliveryFailures.destinationId, row.id);
    const rows = await db(c.env.DB)
      .select()
      .from(deliveryFailures)
      .where(where)
      .orderBy(desc(deliveryFailures.failedAt))
      .limit(limit)
      .all();
    const next = rows.length === limit ? rows[rows.length - 1].failedAt : null;
    const reader = await piiReader(c);
    const data = await Promise.all(
      rows.map(async (f) => ({ ...failureView(f), event: await protectEvent(reader, failureView(f).event) })),
    );
    return c.json({ data, next });
  })
  .post('/:id/replay', doc.replay, requireScope('destinations:write'), async (c) => {
    const { row } = await loadDestination(c.env, c.req.param('id'));
    if (!row.enabled)
      throw new ApiError(409, 'destination_disabled', 'Enable the destination before replaying its failures');
    const input = await parseJson(c.req.raw, ReplayInput);
    const d = db(c.env.DB);
    const byDest = eq(deliveryFailures.destinationId, row.id);
    const rows: DeliveryFailureRow[] = [];
    if (input.all) rows.push(...(await d.select().from(deliveryFailures).where(byDest).limit(1000).all()));
    else {
      for (let i = 0; i < input.messageIds!.length; i += 90) {
        const ids = input.messageIds!.slice(i, i + 90);
        rows.push(
          ...(await d
            .select()
            .from(deliveryFailures)
            .where(and(byDest, inArray(deliveryFailures.messageId, ids)))
            .all()),
        );
      }
      if (!rows.length) throw badRequest('None of these messageIds is a recorded failure of this destination');
    }
    const now = new Date().toISOString();
    const messages: DeliveryAttempt[] = rows.map((f) => ({
      kind: 'attempt',
      destinationId: row.id,
      sourceId: f.sourceId ?? undefined,
      event: JSON.parse(f.event) as EnrichedEvent,
      firstAttemptAt: now,
      priorAttempts: 0,
      replay: true,
    }));
    // Replays take the retry lane: the fresh lane stays for new events.
    await sendJson(c.env.DELIVERY_RETRY_QUEUE, messages);
    const statements = rows.map((f) =>
      c.env.DB.prepare(
        'UPDATE delivery_failures SET replayed_at = ?, replay_count = replay_count + 1 WHERE destination_id = ? AND message_id = ?',
      ).bind(now, row.id, f.messageId),
    );
    await batchInChunks(c.env.DB, statements);
    return c.json({ replayed: rows.length, messageIds: rows.map((f) => f.messageId) }, 202);
  });
