import { z } from 'zod';
import { FqlString } from '../audiences/conditions';
import { evaluateFqlValue, parseFql } from '../lib/fql';
import { NORMALIZERS, normalize } from './normalize';

/** A path a transformation may touch: under `properties`, `traits` or `context.traits`, nested. */
const ROOTS = [['properties'], ['traits'], ['context', 'traits']];
const FieldPath = z.string().min(1).max(500).describe('e.g. "properties.total", "traits.email", "context.traits.plan"');

const ValueTransformation = z
  .strictObject({
    propertyPaths: z.array(FieldPath).min(1).max(50),
    propertyValue: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional().describe('Set to this value'),
    normalize: z.enum(NORMALIZERS).optional().describe('Or normalise the value (beyond Segment)'),
    defaultCountry: z.string().length(2).optional().describe('For e164: the country of national numbers, e.g. "DE"'),
  })
  .refine(
    (v) => (v.propertyValue !== undefined) !== (v.normalize !== undefined),
    'give exactly one of propertyValue or normalize',
  );

/** Segment's transformation shape; `destinationId` scopes it to one destination (in delivery). */
export const TransformationBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  sourceId: z.string().min(1).max(100),
  destinationId: z.string().min(1).max(100).optional(),
  enabled: z.boolean().default(true),
  if: FqlString.describe('FQL: which events it applies to; "all" for every event'),
  drop: z.boolean().optional(),
  newEventName: z.string().min(1).max(200).optional(),
  propertyRenames: z
    .array(z.strictObject({ oldName: FieldPath, newName: FieldPath }))
    .max(100)
    .optional(),
  propertyValueTransformations: z.array(ValueTransformation).max(50).optional(),
  fqlDefinedProperties: z
    .array(z.strictObject({ fql: FqlString, propertyName: FieldPath }))
    .max(50)
    .optional(),
  allowProperties: z.array(FieldPath).max(200).optional().describe('Keep only these fields (properties/traits)'),
});
export type TransformationBody = z.infer<typeof TransformationBody>;

type Json = Record<string, unknown>;

/** A path as segments, with the event type's default root (`properties` for track, `traits` for identify). */
function segments(path: string, event: Json): string[] | null {
  const parts = path.split('.');
  const rooted = ROOTS.some((r) => r.every((s, i) => parts[i] === s) && parts.length > r.length);
  const full = rooted
    ? parts
    : [event.type === 'identify' || event.type === 'group' ? 'traits' : 'properties', ...parts];
  return full.some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype' || p === '') ? null : full;
}

function parentOf(event: Json, path: string[], create: boolean): Json | null {
  let node: Json = event;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next && typeof next === 'object' && !Array.isArray(next)) node = next as Json;
    else if (create) {
      const made: Json = {};
      node[key] = made;
      node = made;
    } else return null;
  }
  return node;
}

const getAt = (e: Json, p: string[]) => {
  const parent = parentOf(e, p, false);
  return parent && Object.hasOwn(parent, p[p.length - 1]) ? { value: parent[p[p.length - 1]] } : undefined;
};
const setAt = (e: Json, p: string[], v: unknown) => {
  const parent = parentOf(e, p, true);
  if (parent) parent[p[p.length - 1]] = v;
};
const deleteAt = (e: Json, p: string[]) => {
  const parent = parentOf(e, p, false);
  if (parent) delete parent[p[p.length - 1]];
};

const conditions = new Map<string, (e: unknown) => boolean>();
function matches(source: string, event: Json): boolean {
  if (source.trim().toLowerCase() === 'all') return true;
  let fn = conditions.get(source);
  if (!fn) {
    const node = parseFql(source);
    fn = (e) => evaluateFqlValue(node, e) === true;
    if (conditions.size > 1000) conditions.clear();
    conditions.set(source, fn);
  }
  return fn(event);
}

/**
 * Applies one transformation; returns the changed event, or null when it drops the event. Order as
 * Segment's: drop, rename the event, rename properties, set or normalise values, FQL-defined
 * properties, then keep only the allowed properties. The input is not changed.
 */
export function applyTransformation(t: TransformationBody, input: Json): Json | null {
  if (!t.enabled || !matches(t.if, input)) return input;
  if (t.drop) return null;
  const event = structuredClone(input);
  if (t.newEventName && event.type === 'track') event.event = t.newEventName;
  for (const { oldName, newName } of t.propertyRenames ?? []) {
    const from = segments(oldName, event);
    const to = newName.includes('.') ? segments(newName, event) : from && [...from.slice(0, -1), newName];
    const found = from && getAt(event, from);
    if (!from || !to || !found) continue;
    deleteAt(event, from);
    setAt(event, to, found.value);
  }
  for (const v of t.propertyValueTransformations ?? []) {
    for (const path of v.propertyPaths) {
      const p = segments(path, event);
      const found = p && getAt(event, p);
      if (!p || !found) continue;
      setAt(event, p, v.normalize ? normalize(v.normalize, found.value, v.defaultCountry) : v.propertyValue);
    }
  }
  for (const { fql, propertyName } of t.fqlDefinedProperties ?? []) {
    const p = segments(propertyName, event);
    if (p) setAt(event, p, evaluateFqlValue(parseFql(fql), input) ?? null);
  }
  if (t.allowProperties) {
    const keep = t.allowProperties.map((a) => segments(a, event)).filter((p): p is string[] => p !== null);
    for (const root of ['properties', 'traits']) {
      const values = event[root];
      if (!values || typeof values !== 'object') continue;
      const kept: Json = {};
      for (const p of keep.filter((k) => k[0] === root)) {
        const found = getAt(event, p);
        if (found) setAt(kept, p.slice(1), found.value);
      }
      event[root] = kept;
    }
  }
  return event;
}

/** Applies transformations in order; null once one drops the event. */
export function applyAll(ts: readonly TransformationBody[], event: Json): Json | null {
  let current: Json | null = event;
  for (const t of ts) {
    if (!current) return null;
    current = applyTransformation(t, current);
  }
  return current;
}
