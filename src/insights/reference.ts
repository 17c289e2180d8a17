// Brute-force reference for insights, written independently of compute.ts: it reads raw events
// (not rollups), unifies profiles with a union-find over the merges, and finds funnel paths by
// exhaustive search. property.test.ts checks that both agree on generated data.
import { compileFql, resolvePath } from '../lib/fql';
import { durationMs, type FunnelQuery, type RetentionQuery, type TrendsQuery } from './queries';
import { canonical, dimsOf, eventKey } from './rollup';

export interface RawEvent {
  t: number;
  profileId: string;
  sourceId: string;
  type: string;
  event?: string;
  properties?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

/** Union-find over merge pairs: the user of a profile is its set's representative. */
export function referenceUsers(merges: [string, string][]): (id: string) => string {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    const p = parent.get(x);
    if (p === undefined || p === x) return x;
    const root = find(p);
    parent.set(x, root);
    return root;
  };
  for (const [a, b] of merges) {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  }
  return find;
}

const DAY = 86_400_000;
const sizeOf = { hour: 3_600_000, day: DAY, week: 7 * DAY };
/** Interval start by calendar arithmetic (weeks from the Monday on or before the date). */
function startOf(t: number, interval: 'hour' | 'day' | 'week'): number {
  const d = new Date(t);
  if (interval === 'hour') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (interval === 'day') return day;
  return day - ((d.getUTCDay() + 6) % 7) * DAY;
}

const viewOf = (e: RawEvent) => {
  const name = eventKey(e);
  return { ...(JSON.parse(dimsOf(e)) as object), event: name, type: e.type };
};
const keyOf = (view: unknown, path?: string) => {
  if (!path) return 'all';
  const v = resolvePath(view, path.split('.'));
  return v === null || v === undefined ? '(none)' : typeof v === 'object' ? canonical(v) : String(v);
};

export function referenceTrends(events: RawEvent[], q: TrendsQuery, user: (id: string) => string) {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  const where = q.where ? compileFql(q.where) : () => true;
  const cells = new Map<string, Map<number, string[]>>();
  for (const e of events) {
    if (eventKey(e) !== q.event || e.t < from || e.t >= to) continue;
    if (q.sourceId && e.sourceId !== q.sourceId) continue;
    const view = viewOf(e);
    if (!where(view)) continue;
    const key = keyOf(view, q.breakdown);
    const m = cells.get(key) ?? cells.set(key, new Map()).get(key)!;
    const b = startOf(e.t, q.interval);
    m.set(b, [...(m.get(b) ?? []), user(e.profileId)]);
  }
  const buckets: number[] = [];
  for (let b = startOf(from, q.interval); b < to; b += sizeOf[q.interval]) buckets.push(b);
  const value = (xs: string[] | undefined) => (q.measure === 'events' ? (xs?.length ?? 0) : new Set(xs).size);
  return new Map(
    [...cells.entries()].map(([key, m]) => [
      key,
      buckets.map((b) => ({ t: new Date(b).toISOString(), value: value(m.get(b)) })),
    ]),
  );
}

/** Per user: the longest, then earliest, chain of step times, found by trying every path. */
export function referenceFunnel(events: RawEvent[], q: FunnelQuery, user: (id: string) => string) {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  const within = durationMs(q.within);
  const wheres = q.steps.map((s) => (s.where ? compileFql(s.where) : () => true));
  const byUser = new Map<string, RawEvent[]>();
  for (const e of events) {
    if (e.t < from || e.t >= to || (q.sourceId && e.sourceId !== q.sourceId)) continue;
    byUser.set(user(e.profileId), [...(byUser.get(user(e.profileId)) ?? []), e]);
  }
  const matches = (e: RawEvent, k: number) => eventKey(e) === q.steps[k].event && wheres[k](viewOf(e));
  const result: { key: string; times: number[] }[] = [];
  for (const list of byUser.values()) {
    const starts = list.filter((e) => matches(e, 0));
    if (!starts.length) continue;
    const t1 = Math.min(...starts.map((e) => e.t));
    const entry = starts
      .filter((e) => e.t === t1)
      .sort((a, b) => (dimsOf(a) < dimsOf(b) ? -1 : dimsOf(a) > dimsOf(b) ? 1 : 0))[0];
    let best: number[] = [t1];
    const search = (chain: number[]) => {
      if (chain.length > best.length) best = chain;
      const k = chain.length;
      if (k >= q.steps.length) return;
      const next = list
        .filter((e) => e.t > chain[k - 1] && e.t - t1 <= within && matches(e, k))
        .map((e) => e.t)
        .sort((a, b) => a - b);
      for (const t of next) search([...chain, t]);
    };
    search([t1]);
    result.push({ key: keyOf(viewOf(entry), q.breakdown), times: best });
  }
  return result;
}

export function referenceRetention(events: RawEvent[], q: RetentionQuery, user: (id: string) => string) {
  const from = Date.parse(q.from);
  const to = Date.parse(q.to);
  const inRange = events.filter((e) => e.t >= from && e.t < to && (!q.sourceId || e.sourceId === q.sourceId));
  const first = new Map<string, number>();
  for (const e of inRange) {
    if (eventKey(e) !== q.startEvent) continue;
    const u = user(e.profileId);
    first.set(u, Math.min(first.get(u) ?? Number.POSITIVE_INFINITY, e.t));
  }
  const out = new Map<number, { users: Set<string>; returned: Map<number, Set<string>> }>();
  for (const [u, t] of first) {
    const c = startOf(t, q.interval);
    const cohort = out.get(c) ?? out.set(c, { users: new Set(), returned: new Map() }).get(c)!;
    cohort.users.add(u);
  }
  for (const e of inRange) {
    if (eventKey(e) !== q.returnEvent) continue;
    const u = user(e.profileId);
    const t = first.get(u);
    if (t === undefined) continue;
    const c = startOf(t, q.interval);
    const k = Math.round((startOf(e.t, q.interval) - c) / sizeOf[q.interval]);
    if (k < 1) continue;
    const r = out.get(c)!.returned;
    (r.get(k) ?? r.set(k, new Set()).get(k)!).add(u);
  }
  return out;
}
