import { compileFql, parseFql, resolvePath } from '../lib/fql';
import type { Audience, ComputedTrait, Condition } from './definitions';
import type { AudienceSnapshot } from './evaluate';
import { parseWindow, toMillis } from './window';

/**
 * A deliberately naive evaluator, written for obviousness rather than speed, that the property test
 * holds `evaluateProfile` against. It shares only FQL and window parsing with the real evaluator.
 */
export interface ReferenceDefinitions {
  computedTraits: ComputedTrait[];
  audiences: Audience[];
}

/** Computed values and memberships at `now`, recomputing everything from scratch. */
export function referenceEvaluate(defs: ReferenceDefinitions, snapshot: AudienceSnapshot, now: number) {
  const computed: Record<string, unknown> = {};
  for (const t of defs.computedTraits) computed[t.key] = referenceTrait(t, snapshot, now);
  const audiences: Record<string, boolean> = {};
  for (const a of defs.audiences) audiences[a.key] = referenceMember(defs, a.key, snapshot, now, computed, 0);
  return { computed, audiences };
}

/** The first instant after `now` at which any result really changes, found by trying every possible edge. */
export function referenceNextChange(
  defs: ReferenceDefinitions,
  snapshot: AudienceSnapshot,
  now: number,
): number | null {
  const windows: number[] = [0];
  for (const t of defs.computedTraits) if (t.within) windows.push(parseWindow(t.within)!);
  for (const a of defs.audiences) collectWindows(a.definition, windows);
  const candidates: number[] = [];
  for (const e of snapshot.events) {
    const t = toMillis(e.timestamp);
    if (t === null) continue;
    for (const w of windows) if (t + w > now && !candidates.includes(t + w)) candidates.push(t + w);
  }
  candidates.sort((a, b) => a - b);
  const base = JSON.stringify(referenceEvaluate(defs, snapshot, now));
  for (const c of candidates) if (JSON.stringify(referenceEvaluate(defs, snapshot, c)) !== base) return c;
  return null;
}

function collectWindows(c: Condition, out: number[]): void {
  if ('and' in c) for (const x of c.and) collectWindows(x, out);
  if ('or' in c) for (const x of c.or) collectWindows(x, out);
  if ('not' in c) collectWindows(c.not, out);
  if ('event' in c && c.within) out.push(parseWindow(c.within)!);
}

function matchingEvents(
  name: string,
  where: string | undefined,
  within: string | undefined,
  s: AudienceSnapshot,
  now: number,
) {
  const pred = where ? compileFql(where) : () => true;
  const windowMs = within ? parseWindow(within)! : null;
  const out: { t: number; i: number; e: Record<string, unknown> }[] = [];
  s.events.forEach((e, i) => {
    const t = toMillis(e.timestamp);
    if (t === null || t > now) return;
    if (windowMs !== null && t <= now - windowMs) return;
    if (name !== '*' && e.event !== name) return;
    if (pred(e)) out.push({ t, i, e });
  });
  // Insertion sort by (time, position in the log): slow and obviously right.
  for (let j = 1; j < out.length; j++) {
    for (let k = j; k > 0 && (out[k - 1].t > out[k].t || (out[k - 1].t === out[k].t && out[k - 1].i > out[k].i)); k--) {
      [out[k - 1], out[k]] = [out[k], out[k - 1]];
    }
  }
  return out.map((x) => x.e);
}

function referenceTrait(t: ComputedTrait, s: AudienceSnapshot, now: number): unknown {
  const events = matchingEvents(t.event, t.where, t.within, s, now);
  if (t.type === 'count') return events.length;
  const node = parseFql(t.property!);
  if (node.type !== 'path') throw new Error('property is not a path');
  const values = events.map((e) => resolvePath(e, node.path)).filter((v) => v !== null && v !== undefined);
  const nums = values.filter((v) => typeof v === 'number' && Number.isFinite(v)) as number[];
  const json = (v: unknown) => JSON.stringify(v);
  const distinct: unknown[] = [];
  for (const v of values) if (!distinct.some((d) => json(d) === json(v))) distinct.push(v);
  switch (t.type) {
    case 'sum':
      return nums.length ? nums.reduce((a, b) => a + b, 0) : null;
    case 'avg':
      return nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null;
    case 'min':
    case 'max': {
      let best: number | null = null;
      for (const n of nums) if (best === null || (t.type === 'min' ? n < best : n > best)) best = n;
      return best;
    }
    case 'first':
      return values.length ? values[0] : null;
    case 'last':
      return values.length ? values[values.length - 1] : null;
    case 'unique_list':
      return distinct.slice(0, 1000);
    case 'unique_count':
      return distinct.length;
    case 'most_frequent': {
      const tie = (v: unknown) => (typeof v === 'string' ? v : json(v));
      const scored = distinct
        .map((v) => ({ v, n: values.filter((x) => json(x) === json(v)).length }))
        .filter((x) => x.n >= 2);
      scored.sort(
        (a, b) => b.n - a.n || (tie(a.v) < tie(b.v) ? -1 : tie(a.v) > tie(b.v) ? 1 : json(a.v) < json(b.v) ? -1 : 1),
      );
      return scored.length ? scored[0].v : null;
    }
  }
}

function referenceMember(
  defs: ReferenceDefinitions,
  key: string,
  s: AudienceSnapshot,
  now: number,
  computed: Record<string, unknown>,
  depth: number,
): boolean {
  const audience = defs.audiences.find((a) => a.key === key);
  if (!audience || depth > 50) return false;
  const holds = (c: Condition): boolean => {
    if ('and' in c) return c.and.every(holds);
    if ('or' in c) return c.or.some(holds);
    if ('not' in c) return !holds(c.not);
    if ('audience' in c) return referenceMember(defs, c.audience, s, now, computed, depth + 1);
    if ('trait' in c) return referenceOp(c.op, traitValue(s.traits, c.trait), c.value);
    if ('computed' in c) return referenceOp(c.op, c.computed in computed ? computed[c.computed] : null, c.value);
    const n = matchingEvents(c.event, c.where, c.within, s, now).length;
    const [op, want] = Object.entries(c.count ?? { '>=': 1 })[0];
    return referenceOp(op as '=', n, want);
  };
  return holds(audience.definition);
}

function traitValue(traits: Record<string, unknown>, name: string): unknown {
  if (Object.keys(traits).includes(name)) return traits[name] ?? null;
  let cur: unknown = traits;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.keys(cur).includes(part)) return null;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur ?? null;
}

// Canonical JSON (sorted keys) so that equality ignores object key order, as FQL's does.
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function referenceOp(op: string, actual: unknown, expected: unknown): boolean {
  const same = (a: unknown, b: unknown) => canon(a) === canon(b);
  const a = actual ?? null;
  if (op === '=') return same(a, expected);
  if (op === '!=') return !same(a, expected);
  if (op === 'exists') return a !== null;
  if (op === 'in') return Array.isArray(expected) && expected.some((x) => same(x, a));
  if (op === 'starts_with') return typeof a === 'string' && typeof expected === 'string' && a.indexOf(expected) === 0;
  if (op === 'contains') {
    if (Array.isArray(a)) return a.some((x) => same(x, expected));
    return typeof a === 'string' && typeof expected === 'string' && a.indexOf(expected) !== -1;
  }
  if (typeof a !== 'number' || typeof expected !== 'number') return false;
  return { '>': a > expected, '>=': a >= expected, '<': a < expected, '<=': a <= expected }[op] === true;
}
