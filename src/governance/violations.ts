import type { EnrichedEvent } from '../ingest/spec';
import type { Violation } from './plan';

/** One event's violations, for counting in D1. */
export interface ViolationRecord {
  event: EnrichedEvent;
  violations: Violation[];
}

const MAX_SAMPLE_CHARS = 8_000;

/**
 * Counts a request's violations in D1 in one `batch()`: one upsert per (event, field, type) seen
 * in the request, never one write per event. Runs after the answer (waitUntil).
 */
export async function recordViolations(d1: D1Database, sourceId: string, planId: string, records: ViolationRecord[]) {
  if (!records.length) return;
  const now = new Date().toISOString();
  const grouped = new Map<string, { v: Violation; type: string; name: string; count: number; sample: string }>();
  for (const { event, violations } of records) {
    const name =
      event.type === 'track' ? event.event : event.type === 'page' || event.type === 'screen' ? (event.name ?? '') : '';
    for (const v of violations) {
      const key = JSON.stringify([event.type, name, v.field, v.type]);
      const g = grouped.get(key);
      if (g) g.count++;
      else
        grouped.set(key, {
          v,
          type: event.type,
          name,
          count: 1,
          sample: sampleOf(event),
        });
    }
  }
  const upsert = d1.prepare(
    `INSERT INTO violations (source_id, event_type, event_name, field, violation_type, plan_id, count, first_seen, last_seen, sample)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (source_id, event_name, event_type, field, violation_type)
     DO UPDATE SET count = count + excluded.count, last_seen = excluded.last_seen, sample = excluded.sample, plan_id = excluded.plan_id`,
  );
  const statements = [...grouped.values()]
    .slice(0, 500)
    .map((g) => upsert.bind(sourceId, g.type, g.name, g.v.field, g.v.type, planId, g.count, now, now, g.sample));
  await d1.batch(statements);
}

function parseSample(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The event as a sample, or a stub when it is too large to keep whole. */
function sampleOf(event: ViolationRecord['event']): string {
  const text = JSON.stringify(event);
  return text.length > MAX_SAMPLE_CHARS ? JSON.stringify({ messageId: event.messageId, truncated: true }) : text;
}

export interface ViolationGroup {
  eventType: string;
  eventName: string;
  field: string;
  violationType: string;
  trackingPlanId: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  sample: unknown;
}

/** A source's violations, most recent first, optionally for one event name and a time range. */
export async function listViolations(
  d1: D1Database,
  sourceId: string,
  q: { from?: string; to?: string; eventName?: string },
): Promise<ViolationGroup[]> {
  const { results } = await d1
    .prepare(
      `SELECT * FROM violations WHERE source_id = ?1
        AND (?2 IS NULL OR last_seen >= ?2) AND (?3 IS NULL OR first_seen <= ?3) AND (?4 IS NULL OR event_name = ?4)
        ORDER BY last_seen DESC LIMIT 1000`,
    )
    .bind(sourceId, q.from ?? null, q.to ?? null, q.eventName ?? null)
    .all<Record<string, string | number>>();
  return results.map(groupOf);
}

/** A plan's violations (see `listPlanViolations`); exported for the test of its query plan. */
export const PLAN_VIOLATIONS_SQL = `SELECT v.* FROM tracking_plan_sources s
  JOIN violations v ON v.source_id = s.source_id AND v.plan_id = s.plan_id
  WHERE s.plan_id = ?1 ORDER BY v.last_seen DESC LIMIT 1000`;

/**
 * A tracking plan's violations across the sources connected to it (counted under it), most recent
 * first; a source's own list keeps what it counted under an earlier plan. Read by the sources'
 * primary-key prefix: an index on plan_id would cost a billed row at every count of a known group
 * (the upsert sets plan_id), where this costs nothing when writing.
 */
export async function listPlanViolations(d1: D1Database, planId: string): Promise<ViolationGroup[]> {
  const { results } = await d1.prepare(PLAN_VIOLATIONS_SQL).bind(planId).all<Record<string, string | number>>();
  return results.map(groupOf);
}

function groupOf(r: Record<string, string | number>): ViolationGroup & { sourceId: string } {
  return {
    sourceId: String(r.source_id),
    eventType: String(r.event_type),
    eventName: String(r.event_name),
    field: String(r.field),
    violationType: String(r.violation_type),
    trackingPlanId: String(r.plan_id),
    count: Number(r.count),
    firstSeen: String(r.first_seen),
    lastSeen: String(r.last_seen),
    sample: parseSample(String(r.sample)),
  };
}
