import type { EnrichedEvent } from '../ingest/spec';

/** A JSON type as JSON Schema names it. */
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';

export const jsonType = (v: unknown): JsonType =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number'
        ? Number.isInteger(v)
          ? 'integer'
          : 'number'
        : (typeof v as JsonType);

interface Seen {
  sourceId: string;
  eventType: string;
  eventName: string;
  field: string;
  types: Set<JsonType>;
  count: number;
  lastSeen: string;
}

const FLUSH_EVERY_MS = 10_000;
const MAX_KEYS = 5_000;
/** Top-level keys only (`properties.x`, `traits.x`): what a tracking plan rule names. */
const SECTIONS = ['properties', 'traits'] as const;

/**
 * Accumulates the observed schema in the isolate and hands it out at most every FLUSH_EVERY_MS,
 * so the hot path writes D1 once per isolate per interval, not once per event or request.
 */
export class SchemaObserver {
  private seen = new Map<string, Seen>();
  private lastFlush = Date.now();

  observe(sourceId: string, events: readonly EnrichedEvent[], now = new Date()): void {
    const at = now.toISOString();
    for (const e of events) {
      const name = e.type === 'track' ? e.event : e.type === 'page' || e.type === 'screen' ? (e.name ?? '') : '';
      this.add(sourceId, e.type, name, '', 'object', at);
      for (const section of SECTIONS) {
        const values = (e as Record<string, unknown>)[section];
        if (!values || typeof values !== 'object' || Array.isArray(values)) continue;
        for (const [k, v] of Object.entries(values).slice(0, 300))
          this.add(sourceId, e.type, name, `${section}.${k}`, jsonType(v), at);
      }
    }
  }

  private add(sourceId: string, eventType: string, eventName: string, field: string, type: JsonType, at: string) {
    const key = JSON.stringify([sourceId, eventType, eventName, field]);
    const s = this.seen.get(key);
    if (s) {
      s.types.add(type);
      s.count++;
      s.lastSeen = at;
    } else if (this.seen.size < MAX_KEYS) {
      this.seen.set(key, { sourceId, eventType, eventName, field, types: new Set([type]), count: 1, lastSeen: at });
    }
  }

  /** What accumulated, when a flush is due (or `force`d); the observer starts afresh. */
  take(force = false, now = Date.now()): Seen[] {
    if (!this.seen.size || (!force && now - this.lastFlush < FLUSH_EVERY_MS && this.seen.size < MAX_KEYS)) return [];
    const out = [...this.seen.values()];
    this.seen = new Map();
    this.lastFlush = now;
    return out;
  }
}

export const observer = new SchemaObserver();

/** Writes what the observer took, merging type sets and adding counts, in one D1 batch. */
export async function flushObserved(d1: D1Database, rows: Seen[]): Promise<void> {
  if (!rows.length) return;
  const upsert = d1.prepare(
    `INSERT INTO observed_schema (source_id, event_type, event_name, field, types, count, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (source_id, event_type, event_name, field) DO UPDATE SET
       types = (SELECT json_group_array(DISTINCT value) FROM (SELECT value FROM json_each(observed_schema.types)
                UNION SELECT value FROM json_each(excluded.types))),
       count = count + excluded.count, last_seen = excluded.last_seen`,
  );
  for (let i = 0; i < rows.length; i += 200) {
    await d1.batch(
      rows
        .slice(i, i + 200)
        .map((r) =>
          upsert.bind(
            r.sourceId,
            r.eventType,
            r.eventName,
            r.field,
            JSON.stringify([...r.types].sort()),
            r.count,
            r.lastSeen,
          ),
        ),
    );
  }
}

export interface ObservedEvent {
  type: string;
  name: string;
  count: number;
  lastSeen: string;
  fields: { field: string; types: JsonType[]; count: number; lastSeen: string }[];
}

/** A source's observed schema, one entry per event type and name. */
export async function observedSchema(d1: D1Database, sourceId: string): Promise<ObservedEvent[]> {
  const { results } = await d1
    .prepare('SELECT * FROM observed_schema WHERE source_id = ? ORDER BY event_type, event_name, field LIMIT 10000')
    .bind(sourceId)
    .all<{ event_type: string; event_name: string; field: string; types: string; count: number; last_seen: string }>();
  const events = new Map<string, ObservedEvent>();
  for (const r of results) {
    const key = `${r.event_type}\u0000${r.event_name}`;
    let e = events.get(key);
    if (!e) {
      e = { type: r.event_type, name: r.event_name, count: 0, lastSeen: r.last_seen, fields: [] };
      events.set(key, e);
    }
    if (r.field === '') {
      e.count = r.count;
      e.lastSeen = r.last_seen;
    } else e.fields.push({ field: r.field, types: JSON.parse(r.types), count: r.count, lastSeen: r.last_seen });
  }
  return [...events.values()];
}
