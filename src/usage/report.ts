import type { Unit } from './counters';

/** Counters summed over a time range, per stage, source, unit and detail. */
export interface UsageSum {
  stage: string;
  source: string;
  unit: string;
  detail: string;
  n: number;
}

export interface UsageGroup {
  key: string;
  /** Events accepted (whole range for stages; the source's own for sources). */
  events: number;
  units: Record<string, number>;
  /** Units by detail: Durable Object class, queue, entry point, bucket. */
  details: Record<string, Record<string, number>>;
  per1000Events: Record<string, number>;
  dollars: number;
  dollarsPerMillionEvents: number | null;
}

export interface UsageReport {
  events: number;
  total: UsageGroup;
  groups: UsageGroup[];
}

const round = (n: number, digits = 4) => Number(n.toFixed(digits));

function group(
  key: string,
  events: number,
  rows: { unit: string; detail: string; n: number }[],
  prices: Record<Unit, number>,
): UsageGroup {
  const units: Record<string, number> = {};
  const details: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    if (r.unit === 'events') continue;
    units[r.unit] = (units[r.unit] ?? 0) + r.n;
    if (r.detail) {
      details[r.unit] ??= {};
      details[r.unit][r.detail] = (details[r.unit][r.detail] ?? 0) + r.n;
    }
  }
  let dollars = 0;
  const per1000Events: Record<string, number> = {};
  for (const [unit, n] of Object.entries(units)) {
    dollars += (n * (prices[unit as Unit] ?? 0)) / 1e6;
    if (events > 0) per1000Events[unit] = round((n / events) * 1000, 2);
  }
  return {
    key,
    events,
    units: Object.fromEntries(Object.entries(units).map(([u, n]) => [u, round(n, 2)])),
    details,
    per1000Events,
    dollars: round(dollars, 6),
    dollarsPerMillionEvents: events > 0 ? round((dollars / events) * 1e6, 4) : null,
  };
}

/**
 * Prices summed counters (pure). By stage: each stage's units against all events. By source: a
 * source's events are its own; units the meter cannot tie to one source (profiles, queues, D1
 * are shared) are apportioned by its share of the events.
 */
export function buildReport(
  sums: readonly UsageSum[],
  groupBy: 'stage' | 'source',
  prices: Record<Unit, number>,
): UsageReport {
  const events = sums.filter((s) => s.unit === 'events').reduce((a, s) => a + s.n, 0);
  const total = group('*', events, [...sums], prices);
  let groups: UsageGroup[];
  if (groupBy === 'stage') {
    const byStage = new Map<string, UsageSum[]>();
    for (const s of sums) byStage.set(s.stage, [...(byStage.get(s.stage) ?? []), s]);
    groups = [...byStage].map(([stage, rows]) => group(stage, events, rows, prices));
  } else {
    const perSource = new Map<string, number>();
    for (const s of sums) if (s.unit === 'events') perSource.set(s.source, (perSource.get(s.source) ?? 0) + s.n);
    groups = [...perSource].map(([source, n]) => {
      const share = events > 0 ? n / events : 0;
      const own = sums.filter((s) => s.unit !== 'events' && s.source === source);
      const shared = sums
        .filter((s) => s.unit !== 'events' && !perSource.has(s.source))
        .map((s) => ({ ...s, n: s.n * share }));
      return group(source, n, [...own, ...shared], prices);
    });
  }
  groups.sort((a, b) => b.dollars - a.dollars || a.key.localeCompare(b.key));
  return { events, total, groups };
}
