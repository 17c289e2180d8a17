import { parseKey } from './identifiers';
import { compareRank, type LimitSpec, MAX_IDENTIFIERS, MAX_MERGES, type Rules } from './settings';

/** Most identifiers resolution takes from one event; the least important beyond it are dropped. */
export const MAX_EVENT_IDENTIFIERS = 50;

/**
 * Bounds an event's identifiers in one step, before anything is looked up. Per kind, the first
 * `limit` values in event order are kept: no profile may hold more values of a kind than its
 * limit, so the others could only be dropped later, one conflict at a time (an event with 50
 * custom ids of one kind used to exhaust the resolver's attempts). Then at most
 * `MAX_EVENT_IDENTIFIERS` overall, the most important kinds first, ties in event order. The
 * result depends on the event and the rules only, never on what the index holds.
 */
export function capIdentifiers(keys: string[], rules: Rules): { kept: string[]; dropped: string[] } {
  const perKind = new Map<string, number>();
  const withinKind = keys.filter((k) => {
    const kind = kindOf(k);
    const n = (perKind.get(kind) ?? 0) + 1;
    perKind.set(kind, n);
    return n <= rules.limitOf(kind);
  });
  const position = new Map(withinKind.map((k, i) => [k, i]));
  const byImportance = [...withinKind].sort(
    (a, b) => compareRank(rules, kindOf(a), kindOf(b)) || position.get(a)! - position.get(b)!,
  );
  const keep = new Set(byImportance.slice(0, MAX_EVENT_IDENTIFIERS));
  return { kept: keys.filter((k) => keep.has(k)), dropped: keys.filter((k) => !keep.has(k)) };
}

/** What resolution needs to know about a live profile. */
export interface ProfileView {
  id: string;
  /** Its identifier keys (`kind:value`). */
  identifiers: string[];
  /** How many profiles were merged into it, transitively. */
  merges: number;
  /** When each identifier was added to it (ms), for limits counted over a window. */
  addedAt?: Record<string, number>;
}

/** By how much a would-be profile breaks the limits, and which rules it breaks. */
export interface Excess {
  amount: number;
  /** Kinds over their limit, plus `*identifiers` / `*merges` for the hard caps. */
  kinds: Set<string>;
}

const kindOf = (key: string) => parseKey(key)?.kind ?? key;

/** When limits are measured, and when each known identifier was added (a key not listed: now). */
export interface LimitClock {
  now: number;
  addedAt: Record<string, number>;
}

/** Values per kind; for a windowed kind, only those added within its window. */
function countKinds(keys: Iterable<string>, spec: LimitSpec, clock: LimitClock): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) {
    const kind = kindOf(k);
    const window = spec.windows?.[kind];
    if (window !== undefined && (clock.addedAt[k] ?? clock.now) <= clock.now - window) continue;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/**
 * Measures how far a profile holding `keys` after `merges` merges would exceed the limits. A
 * count already reached by one of the `baselines` (profiles as they are now) is tolerated, so a
 * profile that predates a stricter setting keeps working, but nothing may grow past it.
 */
export function measureExcess(
  keys: Set<string>,
  merges: number,
  baselines: Pick<ProfileView, 'identifiers' | 'merges' | 'addedAt'>[],
  spec: LimitSpec,
  now = Date.now(),
): Excess {
  // Identifiers already on a profile keep their date; the event's new ones are added now.
  const clock: LimitClock = { now, addedAt: Object.assign({}, ...baselines.map((b) => b.addedAt ?? {})) };
  const base = new Map<string, number>();
  let baseTotal = 0;
  let baseMerges = 0;
  for (const b of baselines) {
    for (const [kind, n] of countKinds(b.identifiers, spec, clock)) base.set(kind, Math.max(base.get(kind) ?? 0, n));
    baseTotal = Math.max(baseTotal, b.identifiers.length);
    baseMerges = Math.max(baseMerges, b.merges);
  }
  const result: Excess = { amount: 0, kinds: new Set() };
  const over = (label: string, count: number, allowed: number) => {
    if (count <= allowed) return;
    result.amount += count - allowed;
    result.kinds.add(label);
  };
  for (const [kind, n] of countKinds(keys, spec, clock)) {
    over(kind, n, Math.max(spec.limits[kind] ?? spec.defaultLimit, base.get(kind) ?? 0));
  }
  over('*identifiers', keys.size, Math.max(MAX_IDENTIFIERS, baseTotal));
  over('*merges', merges, Math.max(MAX_MERGES, baseMerges));
  return result;
}

/** An event's identifiers and the live profiles that currently own some of them. */
export interface PlanInput {
  /** The event's identifier keys, in reading order, without the ones already dropped. */
  identifiers: string[];
  /** Key → id of the live profile that owns it; keys nobody owns are absent. */
  owners: Record<string, string>;
  /** Live profiles by id (every owner appears here). */
  profiles: Record<string, ProfileView>;
  /** The instant windowed limits are measured at (ms); the current time if absent. */
  now?: number;
}

/** The next step of resolution: drop one identifier and plan again, or resolve. */
export type Plan =
  | { kind: 'drop'; key: string; breaks: string[] }
  | {
      kind: 'resolve';
      /** Profile the event lands on: the smallest id involved; absent when a new one is minted. */
      target?: string;
      /** Profiles to merge into the target. */
      losers: string[];
    };

function involvedProfiles(ids: string[], input: PlanInput): ProfileView[] {
  const found = new Map<string, ProfileView>();
  for (const key of ids) {
    const owner = input.owners[key];
    const p = owner === undefined ? undefined : input.profiles[owner];
    if (p) found.set(p.id, p);
  }
  return [...found.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function evaluate(ids: string[], input: PlanInput, spec: LimitSpec): Excess {
  const involved = involvedProfiles(ids, input);
  const union = new Set(ids);
  let merges = Math.max(0, involved.length - 1);
  for (const p of involved) {
    for (const k of p.identifiers) union.add(k);
    merges += p.merges;
  }
  return measureExcess(union, merges, involved, spec, input.now);
}

/**
 * Plans the resolution of one event (DESIGN.md §3). Without a limit conflict, the event's
 * profiles merge into the smallest id: plain union-find. With one, the least important identifier
 * taking part in the conflict is dropped (Segment's rule: user_id outranks email outranks the
 * rest) and the caller plans again with what is left. Ties drop the later-read identifier.
 */
export function planResolution(input: PlanInput, rules: Rules, spec: LimitSpec): Plan {
  const current = evaluate(input.identifiers, input, spec);
  if (current.amount === 0) {
    const involved = involvedProfiles(input.identifiers, input);
    const [target, ...losers] = involved.map((p) => p.id);
    return { kind: 'resolve', target, losers };
  }
  const position = new Map(input.identifiers.map((k, i) => [k, i]));
  const leastImportantFirst = [...input.identifiers].sort(
    (a, b) => compareRank(rules, kindOf(b), kindOf(a)) || position.get(b)! - position.get(a)!,
  );
  const breaks = [...current.kinds];
  // An identifier takes part when it is of a kind over its limit, or pulls in a profile holding
  // such a kind (or any profile, for the merge cap). Dropping the least important participant
  // first means a user_id is only ever dropped when it is itself the conflict.
  const takesPart = (key: string) => {
    if (current.kinds.has(kindOf(key)) || current.kinds.has('*identifiers')) return true;
    const owner = input.owners[key];
    const p = owner === undefined ? undefined : input.profiles[owner];
    if (!p) return false;
    return current.kinds.has('*merges') || p.identifiers.some((k) => current.kinds.has(kindOf(k)));
  };
  const key = leastImportantFirst.find(takesPart) ?? leastImportantFirst[0];
  return { kind: 'drop', key, breaks };
}
