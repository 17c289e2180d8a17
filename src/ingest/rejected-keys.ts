import { desc, gte, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { type RejectedWriteKeyRow, rejectedWriteKeys } from '../db/schema';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { sha256Hex } from '../lib/ids';
import type { KeyRefusal } from './sources';

/**
 * Requests with an unknown, disabled or retired write key are answered 200 and dropped, as
 * Segment does (an SDK that sees 401 may crash its host process). They are never dropped
 * silently: each is counted here per key and UTC day. To keep D1 off the hot path, counts are
 * summed in the isolate and written at most once per `FLUSH_MS` per isolate (one upsert per
 * distinct key in that window, in one `batch()`), after the response. An isolate that dies
 * inside the window loses at most that window's counts.
 */
const FLUSH_MS = 1_000;
/** Distinct keys one window keeps apart; beyond, they share one "other keys" row (a key-spraying client). */
const MAX_KEYS_PER_WINDOW = 200;
const RETENTION_DAYS = 30;
const OVERFLOW_HASH = 'overflow';
const MAX_UA = 200;

export interface RejectedRequest {
  writeKey: string;
  reason: KeyRefusal;
  sourceId?: string;
  events: number;
  userAgent?: string | null;
  at: Date;
}

type Pending = RejectedWriteKeyRow;
const pending = new Map<string, Pending>();
let flushing: Promise<void> | undefined;
let prunedDay = '';

/** What may be shown of a key: never all of it; at most 8 characters and at most half of it. */
export function keyPrefix(writeKey: string): string {
  return `${writeKey.slice(0, Math.min(8, Math.floor(writeKey.length / 2)))}…`;
}

/** Adds a request to a window's pending counts (pure over the map it is given). */
export function addPending(into: Map<string, Pending>, keyHash: string, r: RejectedRequest, maxKeys: number): void {
  const at = r.at.toISOString();
  const day = at.slice(0, 10);
  let hash = keyHash;
  if (!into.has(`${hash}|${day}`) && into.size >= maxKeys) hash = OVERFLOW_HASH;
  const id = `${hash}|${day}`;
  const overflow = hash === OVERFLOW_HASH;
  const ua = r.userAgent ? r.userAgent.slice(0, MAX_UA) : null;
  const row = into.get(id);
  if (row) {
    row.requests += 1;
    row.events += r.events;
    row.lastSeen = at;
    row.lastUserAgent = ua;
    if (!overflow) Object.assign(row, { reason: r.reason, sourceId: r.sourceId ?? null });
    return;
  }
  into.set(id, {
    keyHash: hash,
    day,
    keyPrefix: overflow ? '(other keys)' : keyPrefix(r.writeKey),
    reason: overflow ? 'unknown' : r.reason,
    sourceId: overflow ? null : (r.sourceId ?? null),
    requests: 1,
    events: r.events,
    firstSeen: at,
    lastSeen: at,
    lastUserAgent: ua,
  });
}

/**
 * Counts a refused request. Returns the promise to pass to `waitUntil`: it is the window's
 * flush when this request opened the window, else it settles at once (the flush is another
 * request's I/O, which this one must not wait on).
 */
export async function countRejected(d1: D1Database, r: RejectedRequest): Promise<void> {
  addPending(pending, await sha256Hex(r.writeKey), r, MAX_KEYS_PER_WINDOW);
  if (flushing) return;
  flushing = (async () => {
    await new Promise((resolve) => setTimeout(resolve, FLUSH_MS));
    const rows = [...pending.values()];
    pending.clear();
    await writeRejected(d1, rows);
  })()
    .catch((err) => console.error('counting rejected write keys failed', err))
    .finally(() => {
      flushing = undefined;
    });
  return flushing;
}

/** Upserts a window's counts in one batch; once a day per isolate it also drops rows past retention. */
export async function writeRejected(d1: D1Database, rows: Pending[]): Promise<void> {
  if (!rows.length) return;
  const t = rejectedWriteKeys;
  const client = db(d1);
  const upserts = rows.map((row) =>
    client
      .insert(t)
      .values(row)
      .onConflictDoUpdate({
        target: [t.keyHash, t.day],
        // SQLite evaluates every SET expression against the row before the update.
        set: {
          requests: sql`${t.requests} + excluded.requests`,
          events: sql`${t.events} + excluded.events`,
          firstSeen: sql`min(${t.firstSeen}, excluded.first_seen)`,
          lastSeen: sql`max(${t.lastSeen}, excluded.last_seen)`,
          lastUserAgent: sql`case when excluded.last_seen >= ${t.lastSeen} then excluded.last_user_agent else ${t.lastUserAgent} end`,
          reason: sql`excluded.reason`,
          sourceId: sql`excluded.source_id`,
        },
      }),
  );
  const today = rows[0].day;
  if (prunedDay !== today) {
    prunedDay = today;
    const cutoff = new Date(Date.parse(today) - RETENTION_DAYS * 86_400_000).toISOString().slice(0, 10);
    await client.batch([client.delete(t).where(sql`${t.day} < ${cutoff}`), ...upserts]);
  } else {
    await client.batch(upserts as [(typeof upserts)[number], ...typeof upserts]);
  }
}

/** One key as `GET /api/ingest/rejected-keys` lists it. */
export interface RejectedKeyView {
  keyPrefix: string;
  reason: string;
  sourceId: string | null;
  events: number;
  requests: number;
  firstSeen: string;
  lastSeen: string;
  lastUserAgent: string | null;
  days: { day: string; events: number; requests: number }[];
}

/** Folds per-day rows into one entry per key, most recently seen first (pure). */
export function summarizeRejected(rows: readonly RejectedWriteKeyRow[]): RejectedKeyView[] {
  const byKey = new Map<string, RejectedKeyView>();
  for (const r of [...rows].sort((a, b) => a.day.localeCompare(b.day))) {
    const day = { day: r.day, events: r.events, requests: r.requests };
    const v = byKey.get(r.keyHash);
    if (!v) {
      byKey.set(r.keyHash, {
        keyPrefix: r.keyPrefix,
        reason: r.reason,
        sourceId: r.sourceId,
        events: r.events,
        requests: r.requests,
        firstSeen: r.firstSeen,
        lastSeen: r.lastSeen,
        lastUserAgent: r.lastUserAgent,
        days: [day],
      });
      continue;
    }
    v.events += r.events;
    v.requests += r.requests;
    v.days.push(day);
    if (r.firstSeen < v.firstSeen) v.firstSeen = r.firstSeen;
    if (r.lastSeen >= v.lastSeen)
      Object.assign(v, {
        lastSeen: r.lastSeen,
        lastUserAgent: r.lastUserAgent,
        reason: r.reason,
        sourceId: r.sourceId,
      });
  }
  return [...byKey.values()].sort((a, b) => b.lastSeen.localeCompare(a.lastSeen));
}

/** `GET /api/ingest/rejected-keys?days=7`: keys whose requests were answered 200 and dropped. */
const doc = apiDoc('Ingest', {
  list: {
    summary: 'Write keys whose requests were answered 200 and dropped (unknown, disabled, rotated out)',
    query: { days: 'How many days back, 1–30 (default 7)' },
  },
});

export const rejectedKeysApi = new Hono<AdminEnv>().get('/', doc.list, requireScope('sources:read'), async (c) => {
  const days = queryInt(c.req.query('days'), 'days', { fallback: 7, min: 1, max: RETENTION_DAYS });
  const since = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  const t = rejectedWriteKeys;
  const rows = await db(c.env.DB).select().from(t).where(gte(t.day, since)).orderBy(desc(t.lastSeen)).limit(5000).all();
  return c.json({ data: summarizeRejected(rows), since });
});
