import { describe, expect, it } from 'vitest';
import {
  capIdentifiers,
  MAX_EVENT_IDENTIFIERS,
  measureExcess,
  type PlanInput,
  type ProfileView,
  planResolution,
} from './resolve';
import { compileRules, defaultSettings, limitSpec, MAX_MERGES } from './settings';

const rules = compileRules(defaultSettings());
const spec = limitSpec(rules);

function input(identifiers: string[], profiles: ProfileView[]): PlanInput {
  const owners: Record<string, string> = {};
  for (const p of profiles) for (const k of p.identifiers) owners[k] = p.id;
  return {
    identifiers,
    owners: Object.fromEntries(identifiers.filter((k) => owners[k]).map((k) => [k, owners[k]])),
    profiles: Object.fromEntries(profiles.map((p) => [p.id, p])),
  };
}
const profile = (id: string, identifiers: string[], merges = 0): ProfileView => ({ id, identifiers, merges });

/** Plans repeatedly, dropping as told, until it resolves: what the resolver does without races. */
function resolveFully(ids: string[], profiles: ProfileView[]) {
  const dropped: string[] = [];
  let left = ids;
  for (;;) {
    const plan = planResolution(input(left, profiles), rules, spec);
    if (plan.kind === 'resolve') return { ...plan, dropped, kept: left };
    dropped.push(plan.key);
    left = left.filter((k) => k !== plan.key);
  }
}

describe('planResolution', () => {
  it('mints when nothing is known, lands on the only profile, merges into the smallest id', () => {
    expect(planResolution(input(['anonymous_id:a'], []), rules, spec)).toEqual({
      kind: 'resolve',
      target: undefined,
      losers: [],
    });
    const a = profile('use_B', ['anonymous_id:a']);
    const u = profile('use_A', ['user_id:u']);
    expect(planResolution(input(['anonymous_id:a'], [a]), rules, spec)).toEqual({
      kind: 'resolve',
      target: 'use_B',
      losers: [],
    });
    expect(planResolution(input(['user_id:u', 'anonymous_id:a'], [a, u]), rules, spec)).toEqual({
      kind: 'resolve',
      target: 'use_A',
      losers: ['use_B'],
    });
  });

  it("Segment's example: a new user_id with a known email drops the email and gets its own profile", () => {
    const jane = profile('use_A', ['user_id:abc123', 'email:jane@example1.com']);
    const r = resolveFully(['user_id:abc456', 'email:jane@example1.com'], [jane]);
    expect(r.dropped).toEqual(['email:jane@example1.com']);
    expect(r.target).toBeUndefined();
  });

  it('a shared device or browser is dropped, never merging two users', () => {
    const ann = profile('use_A', ['user_id:ann', 'ios.id:ipad', 'anonymous_id:kiosk']);
    expect(resolveFully(['user_id:bob', 'ios.id:ipad'], [ann]).dropped).toEqual(['ios.id:ipad']);
    expect(resolveFully(['user_id:bob', 'anonymous_id:kiosk'], [ann]).dropped).toEqual(['anonymous_id:kiosk']);
    const bob = profile('use_B', ['user_id:bob']);
    const r = resolveFully(['user_id:bob', 'anonymous_id:kiosk', 'ios.id:ipad'], [ann, bob]);
    expect(r).toMatchObject({ target: 'use_B', losers: [] });
    expect(r.dropped.sort()).toEqual(['anonymous_id:kiosk', 'ios.id:ipad']);
  });

  it('drops only what takes part in the conflict, least important first', () => {
    const p1 = profile('use_1', ['user_id:A', 'email:e1', 'anonymous_id:y']);
    const p2 = profile('use_2', ['user_id:B', 'email:e2', 'anonymous_id:x']);
    // Each profile is pulled in by two identifiers: no single removal helps, so the least
    // important taking part (anonymous_id:x, whose profile holds a user_id) goes first.
    const r = resolveFully(['email:e1', 'email:e2', 'anonymous_id:x', 'anonymous_id:y'], [p1, p2]);
    expect(r.dropped[0]).toBe('anonymous_id:y');
    expect(r.losers).toEqual([]);
    expect(new Set(r.kept.map((k) => input(r.kept, [p1, p2]).owners[k])).size).toBe(1);
    // A harmless identifier is kept: only conflicting ones are dropped.
    const r2 = resolveFully(['user_id:A', 'email:e2', 'phone:+1555'], [p1, p2]);
    expect(r2).toMatchObject({ dropped: ['email:e2'], target: 'use_1', kept: ['user_id:A', 'phone:+1555'] });
  });

  it("drops an event's own excess values, the later-read one first", () => {
    const ids = ['user_id:u', ...Array.from({ length: 6 }, (_, i) => `shop_id:s${i}`)];
    const r = resolveFully(ids, []);
    expect(r.dropped).toEqual(['shop_id:s5']);
  });

  it('counts a windowed limit over values added within the window only (anonymous_id: 5 weekly)', () => {
    const weekly = { ...spec, limits: { ...spec.limits, anonymous_id: 5 }, windows: { anonymous_id: 7 * 86_400_000 } };
    const now = Date.parse('2026-06-10T12:00:00Z');
    const day = 86_400_000;
    const anons = (n: number) => Array.from({ length: n }, (_, i) => `anonymous_id:a${i}`);
    const user = (addedDaysAgo: number): ProfileView => {
      const identifiers = ['user_id:u', ...anons(5)];
      const addedAt = Object.fromEntries(identifiers.map((k) => [k, now - addedDaysAgo * day]));
      return { id: 'use_A', identifiers, merges: 0, addedAt };
    };
    const event = ['user_id:u', 'anonymous_id:new'];
    const plan = (p: ProfileView) => planResolution({ ...input(event, [p]), now }, rules, weekly);
    // Five browsers this week: a sixth would break the limit, so it is dropped from the event.
    expect(plan(user(2))).toMatchObject({ kind: 'drop', key: 'anonymous_id:new', breaks: ['anonymous_id'] });
    // The same five, added eight days ago: outside the window, the sixth is welcome.
    expect(plan(user(8))).toEqual({ kind: 'resolve', target: 'use_A', losers: [] });
    // A lifetime limit (ios.id: 5, no window) counts old values too.
    const devices = ['user_id:u', ...Array.from({ length: 5 }, (_, i) => `ios.id:d${i}`)];
    const old = {
      id: 'use_A',
      identifiers: devices,
      merges: 0,
      addedAt: Object.fromEntries(devices.map((k) => [k, now - 90 * day])),
    };
    expect(planResolution({ ...input(['user_id:u', 'ios.id:d9'], [old]), now }, rules, weekly)).toMatchObject({
      kind: 'drop',
      key: 'ios.id:d9',
    });
  });

  it('enforces the caps of 100 merges and 1,000 identifiers', () => {
    const big = profile('use_A', ['anonymous_id:a'], 60);
    const other = profile('use_B', ['anonymous_id:b'], 40);
    const r = planResolution(input(['anonymous_id:a', 'anonymous_id:b'], [big, other]), rules, spec);
    expect(r).toMatchObject({ kind: 'drop', breaks: ['*merges'] });
    expect(measureExcess(new Set(['a:1']), MAX_MERGES, [], spec).amount).toBe(0);
    const keys = new Set(Array.from({ length: 1001 }, (_, i) => `k${i % 300}:${i}`));
    expect(measureExcess(keys, 0, [], spec).kinds.has('*identifiers')).toBe(true);
  });

  it('tolerates a profile already past a limit (settings tightened later) but never grows it', () => {
    const legacy = profile('use_A', ['user_id:u1', 'user_id:u2']);
    expect(planResolution(input(['user_id:u1', 'anonymous_id:z'], [legacy]), rules, spec)).toMatchObject({
      kind: 'resolve',
      target: 'use_A',
    });
    expect(resolveFully(['user_id:u3', 'anonymous_id:zz', 'user_id:u1'], [legacy]).dropped).not.toHaveLength(0);
  });
});

/** A sequential in-memory model of resolution driven by the planner alone. */
function simulate(events: string[][]) {
  const profiles = new Map<string, ProfileView & { events: number[] }>();
  const index = new Map<string, string>();
  let minted = 0;
  events.forEach((keys, n) => {
    let ids = keys;
    for (;;) {
      const known = ids.filter((k) => index.has(k));
      const plan = planResolution(
        {
          identifiers: ids,
          owners: Object.fromEntries(known.map((k) => [k, index.get(k)!])),
          profiles: Object.fromEntries(known.map((k) => [index.get(k)!, profiles.get(index.get(k)!)!])),
        },
        rules,
        spec,
      );
      if (plan.kind === 'drop') {
        ids = ids.filter((k) => k !== plan.key);
        continue;
      }
      const target = plan.target ?? `use_${String(minted++).padStart(8, '0')}`;
      const p = profiles.get(target) ?? { id: target, identifiers: [], merges: 0, events: [] };
      for (const loser of plan.losers) {
        const l = profiles.get(loser)!;
        p.identifiers.push(...l.identifiers);
        p.events.push(...l.events);
        p.merges += 1 + l.merges;
        for (const k of l.identifiers) index.set(k, target);
        profiles.delete(loser);
      }
      for (const k of ids) if (!p.identifiers.includes(k)) p.identifiers.push(k);
      for (const k of ids) index.set(k, target);
      p.events.push(n);
      profiles.set(target, p);
      return;
    }
  });
  return profiles;
}

function rand(seed: number) {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
}

describe('order independence (pure model)', () => {
  const partition = (profiles: ReturnType<typeof simulate>) =>
    [...profiles.values()].map((p) => [...p.identifiers].sort().join(',')).sort();

  it('without conflicts, every arrival order gives the same partition', () => {
    const r = rand(7);
    const people = Array.from({ length: 12 }, (_, i) => [
      `user_id:u${i}`,
      `email:e${i}`,
      `anonymous_id:a${i}`,
      `anonymous_id:b${i}`,
    ]);
    const events = Array.from({ length: 80 }, () => {
      const p = people[Math.floor(r() * people.length)];
      return p.filter(() => r() < 0.5).concat(p[2 + Math.floor(r() * 2)]);
    });
    const expected = partition(simulate(events));
    for (let t = 0; t < 20; t++) {
      const shuffled = events
        .map((_e, i) => [r(), i] as const)
        .sort((x, y) => x[0] - y[0])
        .map(([, i]) => events[i]);
      expect(partition(simulate(shuffled))).toEqual(expected);
    }
  });

  it('with conflicts, no order puts two user_ids on one profile or loses an event', () => {
    const r = rand(11);
    const events = Array.from({ length: 120 }, () => {
      const u = Math.floor(r() * 6);
      return [`user_id:u${u}`, `anonymous_id:shared${Math.floor(r() * 3)}`, `ios.id:d${Math.floor(r() * 4)}`];
    });
    for (let t = 0; t < 10; t++) {
      const shuffled = events
        .map((_e, i) => [r(), i] as const)
        .sort((x, y) => x[0] - y[0])
        .map(([, i]) => events[i]);
      const profiles = simulate(shuffled);
      const all = [...profiles.values()];
      for (const p of all) expect(p.identifiers.filter((k) => k.startsWith('user_id:')).length).toBeLessThanOrEqual(1);
      expect(all.flatMap((p) => p.events).sort((a, b) => a - b)).toEqual(events.map((_, i) => i));
    }
  });
});

describe('capIdentifiers', () => {
  it('keeps the first `limit` values of each kind in event order, in one step', () => {
    const crm = Array.from({ length: 50 }, (_, i) => `crm_id:c${i}`);
    const keys = ['user_id:u', ...crm, 'user_id:v', 'anonymous_id:a'];
    const { kept, dropped } = capIdentifiers(keys, rules);
    // custom kinds take the default limit (5); user_id has limit 1, so the second one goes too.
    expect(kept).toEqual([
      'user_id:u',
      'crm_id:c0',
      'crm_id:c1',
      'crm_id:c2',
      'crm_id:c3',
      'crm_id:c4',
      'anonymous_id:a',
    ]);
    expect(dropped).toEqual([...crm.slice(5), 'user_id:v']);
    // What is kept then resolves without a single further drop.
    expect(planResolution(input(kept, []), rules, spec).kind).toBe('resolve');
  });

  it('bounds the total, dropping the least important kinds first and later ones on ties', () => {
    const custom = Array.from({ length: 60 }, (_, i) => `k${String(i).padStart(2, '0')}:v`);
    const keys = [...custom, 'email:e@x.io', 'user_id:u'];
    const { kept, dropped } = capIdentifiers(keys, rules);
    expect(kept).toHaveLength(MAX_EVENT_IDENTIFIERS);
    expect(kept).toContain('user_id:u');
    expect(kept).toContain('email:e@x.io');
    // Unlisted kinds rank alphabetically, so the alphabetically last ones are dropped.
    expect(dropped).toEqual(custom.slice(MAX_EVENT_IDENTIFIERS - 2));
    expect(capIdentifiers([...keys].reverse(), rules).dropped.sort()).toEqual([...dropped].sort());
  });
});
