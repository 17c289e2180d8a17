// Pure: turns one queue batch of applied events into aggregated rollup rows. A row is one
// (event, hour, profile, source) and holds the distinct dimensions of its events as variants, so a
// batch writes one row per profile and event name an hour, however many property values (a sku,
// an order id) its events carry. `mergeVariants` is how D1 merges a batch into a stored row
// (record.ts does the same in SQL); queries read the variants flattened (`variantRows`).

/** Timestamps kept per variant; past it the variant still counts, funnels see the first 200. */
export const MAX_TIMES = 200;
/** Bytes of canonical dimensions a variant keeps (properties, then the context fields below). */
export const MAX_DIMS_BYTES = 4096;
/**
 * Estimated bytes of variants a row keeps (`variantSize`), a tenth of D1's 2 MB row limit so a
 * merge stays cheap: variants past it collapse into the row's overflow variant (counts and times
 * kept, dimensions lost). One variant is at most ~7 KB, so a row holds at least ~28 of them.
 */
export const MAX_ROW_BYTES = 200_000;
/**
 * Distinct dimensions a row keeps (then the overflow variant). The upsert's merge reads every
 * stored variant (D1 bills ~16 rows read a variant, at a thousandth of a row written), so this
 * bounds a merge into a full row to ~1,600 rows read (1.6 rows written's worth, about the old
 * row-per-dimensions layout's price for one event), while a row of a few variants costs a fraction.
 */
export const MAX_VARIANTS = 100;
/** The dimensions of a row's overflow variant; `dimsOf` never makes them (it always has `properties`). */
export const OVERFLOW_DIMS = '{"$overflow":true}';
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

/** One distinct dimensions of a row: canonical dims, how many events, the first `MAX_TIMES` times (ms). */
export type Variant = [dims: string, count: number, times: number[]];

/** A stored rollup row (migrations/0018): one per event, hour, profile and source. */
export interface StoredRollup {
  event: string;
  hour: number;
  profileId: string;
  sourceId: string;
  /** Sum of the variants' counts. */
  count: number;
  variants: Variant[];
}

/** One variant of a stored row, as trends, funnels, retention and trait previews read it. */
export interface RollupRow {
  event: string;
  hour: number;
  profileId: string;
  sourceId: string;
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

/** When an event happened (ms): its timestamp, else when it was received. */
export function timeOf(e: RollupInput['event']): number | null {
  const t = Date.parse(e.timestamp ?? e.receivedAt ?? '');
  return Number.isFinite(t) ? t : null;
}

/** UTF-8 bytes of a string (what SQLite's `length(CAST(x AS BLOB))` gives for it). */
function utf8Bytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** A variant's size as the row cap counts it: its dims' bytes and ~14 bytes a kept timestamp. */
export const variantSize = (dims: string, times: number) => utf8Bytes(dims) + 14 * times + 8;

/**
 * Variants of the lists merged, as record.ts's upsert merges a batch into a stored row (and a
 * test checks the two agree on real D1): variants of equal dims are one (counts summed, times
 * appended up to `MAX_TIMES`), in the order each first appears; those past `maxBytes` of
 * variants or `MAX_VARIANTS` (and any overflow variant) collapse into one overflow variant, last.
 * Counts stay exact.
 */
export function mergeVariants(lists: readonly (readonly Variant[])[], maxBytes = MAX_ROW_BYTES): Variant[] {
  const groups = new Map<string, Variant>();
  for (const list of lists)
    for (const [dims, count, times] of list) {
      const g = groups.get(dims);
      if (!g) groups.set(dims, [dims, count, times.slice(0, MAX_TIMES)]);
      else {
        g[1] += count;
        for (let i = 0; i < times.length && g[2].length < MAX_TIMES; i++) g[2].push(times[i]);
      }
    }
  const out: Variant[] = [];
  let used = 0;
  let nth = 0;
  let overflow: Variant | null = null;
  for (const g of groups.values()) {
    if (g[0] !== OVERFLOW_DIMS) {
      used += variantSize(g[0], g[2].length);
      nth++;
      if (used <= maxBytes && nth <= MAX_VARIANTS) {
        out.push(g);
        continue;
      }
    }
    if (!overflow) overflow = [OVERFLOW_DIMS, g[1], g[2]];
    else {
      overflow[1] += g[1];
      overflow[2] = [...overflow[2], ...g[2]].slice(0, MAX_TIMES);
    }
  }
  if (overflow) out.push(overflow);
  return out;
}

/** The variants of stored rows, one query row each. */
export function variantRows(rows: readonly StoredRollup[]): RollupRow[] {
  return rows.flatMap((r) =>
    r.variants.map(([dims, count, times]) => ({
      event: r.event,
      hour: r.hour,
      profileId: r.profileId,
      sourceId: r.sourceId,
      dims,
      count,
      times,
    })),
  );
}

/** Aggregates a batch: volume per minute for every event, occurrences per profile for those with one. */
export function buildRollups(
  inputs: readonly RollupInput[],
  maxBytes = MAX_ROW_BYTES,
): { volume: VolumeRow[]; rollup: StoredRollup[] } {
  const volume = new Map<string, VolumeRow>();
  const rollup = new Map<string, { row: StoredRollup; byDims: Map<string, Variant> }>();
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
    const hour = Math.floor(t / 3_600_000);
    const rk = `${name}\0${hour}\0${profileId}\0${sourceId}`;
    let r = rollup.get(rk);
    if (!r) {
      r = { row: { event: name, hour, profileId, sourceId, count: 0, variants: [] }, byDims: new Map() };
      rollup.set(rk, r);
    }
    r.row.count++;
    const variant = r.byDims.get(dims);
    if (variant) {
      variant[1]++;
      if (variant[2].length < MAX_TIMES) variant[2].push(t);
    } else r.byDims.set(dims, [dims, 1, [t]]);
  }
  const rows = [...rollup.values()].map(({ row, byDims }) => ({
    ...row,
    variants: mergeVariants([[...byDims.values()]], maxBytes),
  }));
  return { volume: [...volume.values()], rollup: rows };
}

/**
 * Adds a batch's rows to `stored` as the consumer's upserts add them to D1 (for tests and the
 * benchmark, which keep rollups in memory): a new key is inserted, a stored one merged.
 */
export function storeRollups(
  stored: Map<string, StoredRollup>,
  batch: readonly StoredRollup[],
  maxBytes = MAX_ROW_BYTES,
): void {
  for (const row of batch) {
    const key = `${row.event}\0${row.hour}\0${row.profileId}\0${row.sourceId}`;
    const cur = stored.get(key);
    if (!cur) stored.set(key, { ...row, variants: row.variants.map(([d, n, t]) => [d, n, [...t]]) });
    else {
      cur.count += row.count;
      cur.variants = mergeVariants([cur.variants, row.variants], maxBytes);
    }
  }
}
