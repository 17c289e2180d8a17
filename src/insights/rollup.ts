// Pure: turns one queue batch of applied events into aggregated rollup rows. Events of one profile
// with the same name, hour, source and dimensions share a row, so a batch writes one row per
// distinct group, not one per event.

/** Timestamps kept per rollup row; past it the row still counts, funnels see the first 200. */
export const MAX_TIMES = 200;
/** Bytes of canonical dimensions a row keeps (properties, then the context fields below). */
export const MAX_DIMS_BYTES = 4096;
/** Context fields that never help a breakdown and would split every row (per-request values). */
const VOLATILE_CONTEXT = new Set([
  'ip',
  'userAgent',
  'userAgentData',
  'traits',
  'protocols',
  'externalIds',
  'instanceId',
]);

/** What the ingest consumer hands over for each applied event. */
export interface RollupInput {
  sourceId: string;
  event: {
    type: string;
    /** Counted once per source and messageId (`seen.ts`). */
    messageId?: string;
    event?: unknown;
    timestamp?: string;
    receivedAt?: string;
    properties?: unknown;
    context?: unknown;
  };
  /** The profile it was applied to; none for an event without a usable identifier. */
  profileId?: string;
}

export interface VolumeRow {
  minute: number;
  sourceId: string;
  type: string;
  event: string;
  count: number;
}

export interface RollupRow {
  event: string;
  hour: number;
  profileId: string;
  sourceId: string;
  dimsHash: string;
  dims: string;
  count: number;
  times: number[];
}

/** The name insights know an event by: a track's name, or `$page`, `$identify`… for other types. */
export const eventKey = (e: { type: string; event?: unknown }) =>
  e.type === 'track' ? String(e.event ?? '').slice(0, 200) : `$${e.type}`;

/** Canonical JSON: object keys sorted, so equal dimensions give equal text (and hash). */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const scalars = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v === null || typeof v !== 'object'));

/**
 * The dimensions a row keeps: properties and the stable context fields, bounded to
 * `MAX_DIMS_BYTES` (first without context, then only top-level scalar properties).
 */
export function dimsOf(e: RollupInput['event']): string {
  const properties = isObject(e.properties) ? e.properties : {};
  const ctx = isObject(e.context) ? e.context : {};
  const context = Object.fromEntries(Object.entries(ctx).filter(([k]) => !VOLATILE_CONTEXT.has(k)));
  for (const candidate of [{ properties, context }, { properties }, { properties: scalars(properties) }]) {
    const json = canonical(candidate);
    if (json.length <= MAX_DIMS_BYTES) return json;
  }
  return '{"properties":{}}';
}

/** A 64-bit FNV-1a of the text as 16 hex characters (a row key, not a secret). */
export function hash64(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x01000193 + 2) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** When an event happened (ms): its timestamp, else when it was received. */
export function timeOf(e: RollupInput['event']): number | null {
  const t = Date.parse(e.timestamp ?? e.receivedAt ?? '');
  return Number.isFinite(t) ? t : null;
}

/** Aggregates a batch: volume per minute for every event, occurrences per profile for those with one. */
export function buildRollups(inputs: readonly RollupInput[]): { volume: VolumeRow[]; rollup: RollupRow[] } {
  const volume = new Map<string, VolumeRow>();
  const rollup = new Map<string, RollupRow>();
  for (const { sourceId, event, profileId } of inputs) {
    const t = timeOf(event);
    if (t === null) continue;
    const name = eventKey(event);
    const minute = Math.floor(t / 60_000);
    const vk = `${minute}\0${sourceId}\0${event.type}\0${name}`;
    const v = volume.get(vk);
    if (v) v.count++;
    else volume.set(vk, { minute, sourceId, type: event.type, event: name, count: 1 });
    if (!profileId) continue;
    const dims = dimsOf(event);
    const dimsHash = hash64(dims);
    const hour = Math.floor(t / 3_600_000);
    const rk = `${name}\0${hour}\0${profileId}\0${sourceId}\0${dimsHash}`;
    const r = rollup.get(rk);
    if (r) {
      r.count++;
      if (r.times.length < MAX_TIMES) r.times.push(t);
    } else rollup.set(rk, { event: name, hour, profileId, sourceId, dimsHash, dims, count: 1, times: [t] });
  }
  return { volume: [...volume.values()], rollup: [...rollup.values()] };
}
