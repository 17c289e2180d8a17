// Pure: trends, funnels and retention over rollup rows. Users are unified profiles: every profile
// id goes through `unify` (merge pointers), so the anonymous and the known half of one person are
// one user wherever their events were counted. Checked against `reference.ts` by property.test.ts.
import { compileFql, resolvePath } from '../lib/fql';
import { chainEnd } from '../lib/merge-pointers';
import { durationMs, type FunnelQuery, type RetentionQuery, type TrendsQuery } from './queries';
import { canonical, type RollupRow } from './rollup';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** 1970-01-05, the first Monday: weeks start on Monday, as ISO weeks do. */
const MONDAY = 4 * DAY;

/** Start (ms, UTC) of the interval that holds `t`. */
export function bucketOf(t: number, interval: 'hour' | 'day' | 'week'): number {
  if (interval === 'hour') return Math.floor(t / HOUR) * HOUR;
  if (interval === 'day') return Math.floor(t / DAY) * DAY;
  return Math.floor((t - MONDAY) / WEEK) * WEEK + MONDAY;
}
const step = (interval: 'hour' | 'day' | 'week') => (interval === 'hour' ? HOUR : interval === 'day' ? DAY : WEEK);

/** Every interval start from `from`'s interval up to `to` (exclusive). */
export function bucketsBetween(from: number, to: number, interval: 'hour' | 'day' | 'week'): number[] {
  const out: number[] = [];
  for (let b = bucketOf(from, interval); b < to; b += step(interval)) out.push(b);
  return out;
}

/** Follows merge pointers (loser → survivor) to the live profile. */
export function unifier(merges: ReadonlyMap<string, string>): (id: string) => string {
  const memo = new Map<string, string>();
  return (id) => {
    const known = memo.get(id);
    if (known) return known;
    const cur = chainEnd(merges, id);
    memo.set(id, cur);
    return cur;
  };
}

/** The event as `where` and breakdowns see it: its name, type and kept dimensions. */
export function eventView(name: string, dims: string): Record<string, unknown> {
  const d = JSON.parse(dims) as Record<string, unknown>;
  return { ...d, event: name, type: name.startsWith('$') ? name.slice(1) : 'track' };
}

/** `eventView` parsed once per distinct (name, dimensions) of a query: rows share few of them. */
function viewCache(): (name: string, dims: string) => Record<string, unknown> {
  const seen = new Map<string, Record<string, unknown>>();
  return (name, dims) => {
    const key = `${name}\0${dims}`;
    let v = seen.get(key);
    if (!v) {
      if (seen.size > 100_000) seen.clear();
      v = eventView(name, dims);
      seen.set(key, v);
    }
    return v;
  };
}

/** A breakdown value as a series key. */
export function breakdownKey(view: unknown, path: string | undefined): string {
  if (!path) return 'all';
  const v = resolvePath(view, path.split('.'));
  if (v === null || v === undefined) return '(none)';
  return typeof v === 'object' ? canonical(v) : String(v);
}

/** Most series a breakdown answers (the largest by total). */
export const MAX_SERIES = 50;

export interface Series {
  key: string;
  points: { t: string; value: number }[];
}

type Unify = (id: string) => string;
const matcher = (where: string | undefined) => (where ? compileFql(where) : () => true);

/** `POST /api/insights/trends` over rows of the query's event. */
export function trends(rows: readonly RollupRow[], q: TrendsQuery, unify: Unify): { series: Series[] } {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  const match = matcher(q.where);
  const viewOf = viewCache();
  const keyOf = new Map<Record<string, unknown>, { ok: boolean; key: string }>();
  const buckets = bucketsBetween(from, to, q.interval);
  const counts = new Map<string, Map<number, number>>();
  const users = new Map<string, Map<number, Set<string>>>();
  const add = (key: string, b: number, n: number, profile: string) => {
    if (q.measure === 'events') {
      const m = counts.get(key) ?? counts.set(key, new Map()).get(key)!;
      m.set(b, (m.get(b) ?? 0) + n);
    } else {
      const m = users.get(key) ?? users.set(key, new Map()).get(key)!;
      (m.get(b) ?? m.set(b, new Set()).get(b)!).add(profile);
    }
  };
  for (const r of rows) {
    if (r.event !== q.event || (q.sourceId && r.sourceId !== q.sourceId)) continue;
    const view = viewOf(r.event, r.dims);
    let seen = keyOf.get(view);
    if (!seen) {
      seen = { ok: match(view), key: breakdownKey(view, q.breakdown) };
      keyOf.set(view, seen);
    }
    if (!seen.ok) continue;
    const key = seen.key;
    const start = r.hour * HOUR;
    const profile = unify(r.profileId);
    // A whole hour inside the range lands in one interval: its count is exact even past MAX_TIMES.
    if (start >= from && start + HOUR <= to) add(key, bucketOf(start, q.interval), r.count, profile);
    else for (const t of r.times) if (t >= from && t < to) add(key, bucketOf(t, q.interval), 1, profile);
  }
  const valueAt = (key: string, b: number) =>
    q.measure === 'events' ? (counts.get(key)?.get(b) ?? 0) : (users.get(key)?.get(b)?.size ?? 0);
  const keys = [...(q.measure === 'events' ? counts.keys() : users.keys())];
  const series = keys.map((key) => ({
    key,
    points: buckets.map((b) => ({ t: new Date(b).toISOString(), value: valueAt(key, b) })),
  }));
  const total = (s: Series) => s.points.reduce((a, p) => a + p.value, 0);
  series.sort((a, b) => total(b) - total(a) || (a.key < b.key ? -1 : 1));
  if (!q.breakdown && !series.length) {
    series.push({ key: 'all', points: buckets.map((b) => ({ t: new Date(b).toISOString(), value: 0 })) });
  }
  return { series: series.slice(0, MAX_SERIES) };
}

/** An occurrence as funnels and retention see it: a user, a time, and its event's view. */
interface Occ {
  t: number;
  dims: string;
  view: Record<string, unknown>;
  mask: number;
}

export interface FunnelStep {
  event: string;
  users: number;
  conversionFromFirst: number;
  conversionFromPrevious: number;
  medianSecondsFromPrevious: number | null;
}

export function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const ratio = (a: number, b: number) => (b ? Math.round((a / b) * 10_000) / 10_000 : 0);

/** Per step: users who reached it, conversion, median time from the step before (seconds). */
export function funnelSteps(events: string[], reached: number[][]): FunnelStep[] {
  // reached[u] = the times at which user u reached each step, in order.
  return events.map((event, i) => {
    const at = reached.filter((r) => r.length > i);
    const first = reached.filter((r) => r.length > 0).length;
    const prev = i === 0 ? first : reached.filter((r) => r.length > i - 1).length;
    return {
      event,
      users: at.length,
      conversionFromFirst: ratio(at.length, first),
      conversionFromPrevious: ratio(at.length, prev),
      medianSecondsFromPrevious: i === 0 ? null : median(at.map((r) => (r[i] - r[i - 1]) / 1000)),
    };
  });
}

/** Occurrences per unified user of the given events inside the range, sorted by time. */
function occurrences(
  rows: readonly RollupRow[],
  names: string[],
  wheres: ((e: unknown) => boolean)[],
  range: { from: number; to: number; sourceId?: string },
  unify: Unify,
): Map<string, Occ[]> {
  const byUser = new Map<string, Occ[]>();
  const viewOf = viewCache();
  const masks = new Map<Record<string, unknown>, number>();
  for (const r of rows) {
    if (range.sourceId && r.sourceId !== range.sourceId) continue;
    if (!names.includes(r.event)) continue;
    const view = viewOf(r.event, r.dims);
    let mask = masks.get(view);
    if (mask === undefined) {
      mask = 0;
      for (let i = 0; i < names.length; i++) if (names[i] === r.event && wheres[i](view)) mask |= 1 << i;
      masks.set(view, mask);
    }
    if (!mask) continue;
    const user = unify(r.profileId);
    const list = byUser.get(user) ?? byUser.set(user, []).get(user)!;
    for (const t of r.times) if (t >= range.from && t < range.to) list.push({ t, dims: r.dims, view, mask });
  }
  for (const list of byUser.values())
    list.sort((a, b) => a.t - b.t || (a.dims < b.dims ? -1 : a.dims > b.dims ? 1 : 0));
  return byUser;
}

/**
 * `POST /api/insights/funnel`. A user enters at their first occurrence of step 1 in the range;
 * each later step is their earliest occurrence after the step before, within `within` of the entry.
 */
export function funnel(rows: readonly RollupRow[], q: FunnelQuery, unify: Unify) {
  const range = { from: Date.parse(q.from), to: Date.parse(q.to), sourceId: q.sourceId };
  const within = durationMs(q.within);
  const names = q.steps.map((s) => s.event);
  const byUser = occurrences(
    rows,
    names,
    q.steps.map((s) => matcher(s.where)),
    range,
    unify,
  );
  const groups = new Map<string, number[][]>();
  const all: number[][] = [];
  for (const list of byUser.values()) {
    const entry = list.find((o) => o.mask & 1);
    if (!entry) continue;
    const times = [entry.t];
    for (let k = 1; k < names.length; k++) {
      const prev = times[k - 1];
      const next = list.find((o) => o.t > prev && o.mask & (1 << k));
      if (!next || next.t - entry.t > within) break;
      times.push(next.t);
    }
    all.push(times);
    if (q.breakdown) {
      const key = breakdownKey(entry.view, q.breakdown);
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(times);
    }
  }
  const steps = funnelSteps(names, all);
  if (!q.breakdown) return { steps };
  const breakdowns = [...groups.entries()]
    .map(([key, reached]) => ({ key, steps: funnelSteps(names, reached) }))
    .sort((a, b) => b.steps[0].users - a.steps[0].users || (a.key < b.key ? -1 : 1))
    .slice(0, MAX_SERIES);
  return { steps, breakdowns };
}

export interface Cohort {
  start: string;
  users: number;
  returned: { interval: number; users: number; share: number }[];
}

/**
 * `POST /api/insights/retention`: users by the interval of their first start event in the range;
 * for each later interval k, the share of them who did the return event in interval k.
 */
export function retention(rows: readonly RollupRow[], q: RetentionQuery, unify: Unify): { cohorts: Cohort[] } {
  const range = { from: Date.parse(q.from), to: Date.parse(q.to), sourceId: q.sourceId };
  const always = () => true;
  const byUser = occurrences(rows, [q.startEvent, q.returnEvent], [always, always], range, unify);
  const size = step(q.interval);
  const buckets = bucketsBetween(range.from, range.to, q.interval);
  const cohorts = new Map<number, { users: number; returned: Map<number, number> }>();
  for (const list of byUser.values()) {
    const start = list.find((o) => o.mask & 1);
    if (!start) continue;
    const c = bucketOf(start.t, q.interval);
    const cohort = cohorts.get(c) ?? cohorts.set(c, { users: 0, returned: new Map() }).get(c)!;
    cohort.users++;
    const ks = new Set<number>();
    for (const o of list) {
      if (!(o.mask & 2)) continue;
      const k = Math.round((bucketOf(o.t, q.interval) - c) / size);
      if (k >= 1) ks.add(k);
    }
    for (const k of ks) cohort.returned.set(k, (cohort.returned.get(k) ?? 0) + 1);
  }
  const last = buckets[buckets.length - 1] ?? range.from;
  return {
    cohorts: [...cohorts.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([c, { users, returned }]) => ({
        start: new Date(c).toISOString(),
        users,
        returned: Array.from({ length: Math.round((last - c) / size) }, (_, i) => {
          const n = returned.get(i + 1) ?? 0;
          return { interval: i + 1, users: n, share: ratio(n, users) };
        }),
      })),
  };
}
