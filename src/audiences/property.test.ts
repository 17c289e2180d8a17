import { describe, expect, it } from 'vitest';
import { prng, type Rng } from '../lib/prng';
import { compileDefinitions } from './compile';
import { Audience, COMPUTED_TRAIT_TYPES, ComputedTrait } from './definitions';
import { type AudienceSnapshot, evaluateProfile } from './evaluate';
import { type ReferenceDefinitions, referenceEvaluate, referenceNextChange } from './reference';
import { parseWindow } from './window';

const NOW = Date.parse('2026-01-15T12:00:00.000Z');
const HOUR = 3_600_000;
const NAMES = ['Order Completed', 'Page Viewed', 'Signed Up'];
const WHERES = [
  undefined,
  'properties.total > 20',
  "properties.cat = 'a'",
  "properties.cat in ['a', 'b'] and properties.total >= 10",
  "!contains(properties.cat, 'c')",
  'properties.total = null',
  "type = 'track' or match(properties.cat, '[ab]')",
];
const WINDOWS = [undefined, '1h', '1d', '3d', '7d', '90m'];
const TYPES = COMPUTED_TRAIT_TYPES;

function randomEvent(r: Rng) {
  const ms = NOW + r.int(-10 * 24, 2 * 24) * HOUR + (r.chance(0.3) ? r.int(-59, 59) * 60_000 : 0);
  const properties: Record<string, unknown> = {};
  if (r.chance(0.8)) properties.total = r.pick([0, 5, 10, 15, 25, 50, 99, '12', null]);
  if (r.chance(0.8)) properties.cat = r.pick(['a', 'b', 'c', 'ab']);
  return {
    type: r.pick(['track', 'track', 'track', 'page']),
    event: r.pick(NAMES),
    timestamp: r.chance(0.5) ? new Date(ms).toISOString() : ms,
    properties,
  };
}

function randomProfile(r: Rng): AudienceSnapshot {
  const traits: Record<string, unknown> = {};
  if (r.chance(0.7)) traits.plan = r.pick(['pro', 'free', 'proto']);
  if (r.chance(0.6)) traits.age = r.pick([20, 35, 50]);
  if (r.chance(0.5)) traits.tags = r.pick([['a', 'b'], [], ['c']]);
  if (r.chance(0.5)) traits.address = { city: r.pick(['Paris', 'Oslo']) };
  return { traits, events: Array.from({ length: r.int(0, 14) }, () => randomEvent(r)) };
}

function randomOp(r: Rng, numeric: boolean): { op: string; value?: unknown } {
  const op = r.pick(['=', '!=', '>', '>=', '<', '<=', 'contains', 'starts_with', 'exists', 'in']);
  if (op === 'exists') return { op };
  if (['>', '>=', '<', '<='].includes(op)) return { op, value: r.pick([0, 1, 2, 10, 20, 35]) };
  if (op === 'in')
    return {
      op,
      value: r.pick([
        ['pro', 'free'],
        [1, 2, 3],
        [20, 'x'],
      ]),
    };
  if (op === 'starts_with') return { op, value: r.pick(['pr', 'a', 'P']) };
  return { op, value: numeric ? r.pick([0, 1, 2, 25, 'a']) : r.pick(['pro', 'free', 'a', 20, 'Paris', ['a', 'b']]) };
}

function randomCondition(r: Rng, depth: number, traitKeys: string[], audienceKeys: string[]): unknown {
  let roll = r.int(0, depth > 0 ? 7 : 4);
  if ((roll === 3 && !traitKeys.length) || (roll === 4 && !audienceKeys.length)) roll = 0;
  if (roll <= 1) {
    const count = r.chance(0.6) ? { [r.pick(['=', '!=', '>', '>=', '<', '<='])]: r.int(0, 3) } : undefined;
    return { event: r.pick([...NAMES, '*']), where: r.pick(WHERES), count, within: r.pick(WINDOWS) };
  }
  if (roll === 2) return { trait: r.pick(['plan', 'age', 'tags', 'address.city', 'missing']), ...randomOp(r, false) };
  if (roll === 3) return { computed: r.pick(traitKeys), ...randomOp(r, true) };
  if (roll === 4) return { audience: r.pick(audienceKeys) };
  if (roll === 5) return { not: randomCondition(r, depth - 1, traitKeys, audienceKeys) };
  const children = Array.from({ length: r.int(1, 3) }, () => randomCondition(r, depth - 1, traitKeys, audienceKeys));
  return roll === 6 ? { and: children } : { or: children };
}

function randomDefinitions(r: Rng): ReferenceDefinitions {
  const computedTraits = Array.from({ length: r.int(0, 5) }, (_, i) => {
    const type = r.pick(TYPES);
    return ComputedTrait.parse({
      key: `ct${i}`,
      name: `Trait ${i}`,
      type,
      event: r.pick([...NAMES, '*']),
      where: r.pick(WHERES),
      within: r.pick(WINDOWS),
      property: type === 'count' ? undefined : r.pick(['properties.total', 'properties.cat']),
    });
  });
  const keys = computedTraits.map((t) => t.key);
  const audiences: Audience[] = [];
  for (let i = 0, n = r.int(1, 5); i < n; i++) {
    const definition = randomCondition(
      r,
      3,
      keys,
      audiences.map((a) => a.key),
    );
    audiences.push(Audience.parse({ key: `au${i}`, name: `Audience ${i}`, definition }));
  }
  return { computedTraits, audiences: r.chance(0.5) ? audiences.reverse() : audiences };
}

const compile = (d: ReferenceDefinitions) =>
  compileDefinitions({
    revision: 1,
    computedTraits: d.computedTraits.map((definition, i) => ({ id: `tra_${i}`, version: 1, definition })),
    audiences: d.audiences.map((definition, i) => ({ id: `aud_${i}`, version: 1, definition })),
  });
const results = (e: { computed: unknown; audiences: unknown }) => ({ computed: e.computed, audiences: e.audiences });

// Instants where off-by-one errors live: every event time and window edge, and one ms either side.
function edgeInstants(r: Rng, defs: ReferenceDefinitions, s: AudienceSnapshot): number[] {
  const windows = [0, ...WINDOWS.filter((w) => w !== undefined).map((w) => parseWindow(w)!)];
  const out = [NOW];
  for (let k = 0; k < 4 && s.events.length; k++) {
    const e = r.pick(s.events);
    const t = typeof e.timestamp === 'number' ? e.timestamp : Date.parse(e.timestamp);
    const edge = t + r.pick(windows);
    out.push(edge, edge - 1, edge + 1);
  }
  return defs.audiences.length ? out : [NOW];
}

describe('audience evaluator equals the brute-force reference (property test)', () => {
  const SEEDS = 400;
  it(`agrees on ${SEEDS} random profiles and definition sets, at window edges`, () => {
    let compared = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = prng(seed);
      const defs = randomDefinitions(r);
      const set = compile(defs);
      const profile = randomProfile(r);
      for (const now of edgeInstants(r, defs, profile)) {
        const got = results(evaluateProfile(set, profile, now));
        expect(got, `seed ${seed} at ${new Date(now).toISOString()}`).toEqual(referenceEvaluate(defs, profile, now));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(SEEDS * 5);
  }, 30_000); // about 2 s alone; the shared test machine can make it several times slower

  it('never misses a change: nothing changes before nextChangeAt, and it is exact when the reference sees one', () => {
    let exact = 0;
    let changing = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = prng(seed * 7919);
      const defs = randomDefinitions(r);
      const set = compile(defs);
      const profile = randomProfile(r);
      const at = evaluateProfile(set, profile, NOW);
      const truth = referenceNextChange(defs, profile, NOW);
      const msg = `seed ${seed * 7919}`;
      if (truth !== null) {
        changing++;
        expect(at.nextChangeAt, msg).not.toBeNull();
        expect(at.nextChangeAt!, msg).toBeLessThanOrEqual(truth);
        expect(results(evaluateProfile(set, profile, truth)), msg).not.toEqual(results(at));
      }
      if (at.nextChangeAt !== null) {
        expect(at.nextChangeAt, msg).toBeGreaterThan(NOW);
        const before = results(evaluateProfile(set, profile, at.nextChangeAt - 1));
        expect(before, `${msg}: a result changed before nextChangeAt`).toEqual(results(at));
        if (at.nextChangeAt === truth) exact++;
      }
    }
    expect(changing).toBeGreaterThan(SEEDS / 4);
    // Candidate edges are only those of matching events, so most alarms land on a real change.
    expect(exact / changing).toBeGreaterThan(0.5);
  });
});
