import { z } from 'zod';
import type { EnrichedEvent } from '../ingest/spec';
import { compileFql, FqlError } from '../lib/fql';
import { fnv1a32 } from '../lib/hash';
import { isObject, valueAtPath } from '../lib/json';

/** Action names are accepted in Segment's lower case or the upper case of its docs (`DROP`). */
const actionType = <T extends string>(name: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.literal(name));

const FieldList = z
  .record(z.string(), z.array(z.string().min(1)).max(200))
  .describe('Top-level objects and the keys in them, e.g. { "properties": ["email"], "context": ["ip"] }');

/** What a matching filter does (Segment's destination filter actions). */
export const FilterAction = z.union([
  z.object({ type: actionType('drop') }).describe('Do not send the event'),
  z
    .object({
      type: actionType('sample'),
      percent: z.number().min(0).max(1).describe('Share of events kept, 0–1'),
      path: z.string().min(1).optional().describe('Field hashed to decide, e.g. userId (keeps users whole)'),
    })
    .describe('Send only a share of the events'),
  z.object({ type: actionType('drop_properties'), fields: FieldList }).describe('Remove these fields'),
  z.object({ type: actionType('allow_properties'), fields: FieldList }).describe('Keep only these fields'),
]);
export type FilterAction = z.infer<typeof FilterAction>;

/** One destination filter: when `if` (FQL, or "all") matches, its actions apply in order. */
export const DestinationFilter = z.object({
  if: z
    .string()
    .trim()
    .min(1)
    .max(2000)
    .describe('FQL condition, e.g. type = "track" and event = "Order Completed"; "all" matches every event'),
  actions: z.array(FilterAction).min(1).max(10),
  enabled: z.boolean().default(true),
  title: z.string().max(200).optional(),
});
export type DestinationFilter = z.infer<typeof DestinationFilter>;

const compiled = new Map<string, (event: unknown) => boolean>();

/** Compiles (once per isolate) an `if` condition. Throws `FqlError` for an invalid one. */
export function conditionOf(source: string): (event: unknown) => boolean {
  let fn = compiled.get(source);
  if (!fn) {
    fn = source.trim().toLowerCase() === 'all' ? () => true : compileFql(source);
    if (compiled.size > 1000) compiled.clear();
    compiled.set(source, fn);
  }
  return fn;
}

/** Checks every filter's FQL; the message says which filter and where, for a 400. */
export function filterProblems(filters: DestinationFilter[]): string | undefined {
  for (const [i, f] of filters.entries()) {
    try {
      conditionOf(f.if);
    } catch (err) {
      if (err instanceof FqlError) return `filters.${i}.if: ${err.message}`;
      throw err;
    }
  }
  return undefined;
}

/** A stable number in [0, 1) for a string (FNV-1a), so a redelivered event samples the same way. */
export function unitHash(s: string): number {
  return fnv1a32(s) / 2 ** 32;
}

const valueAt = (event: EnrichedEvent, path: string): unknown => valueAtPath(event, path);

function editFields(event: EnrichedEvent, fields: Record<string, string[]>, keep: boolean): EnrichedEvent {
  const out: Record<string, unknown> = { ...event };
  for (const [top, keys] of Object.entries(fields)) {
    const obj = out[top];
    if (!isObject(obj)) continue;
    const wanted = new Set(keys);
    out[top] = Object.fromEntries(Object.entries(obj).filter(([k]) => wanted.has(k) === keep));
  }
  return out as EnrichedEvent;
}

/** Applies a destination's filters: the event to send (maybe with fields removed), or null to drop. */
export function applyFilters(event: EnrichedEvent, filters: DestinationFilter[]): EnrichedEvent | null {
  let current = event;
  for (const f of filters) {
    if (!f.enabled || !conditionOf(f.if)(current)) continue;
    for (const action of f.actions) {
      if (action.type === 'drop') return null;
      if (action.type === 'sample') {
        const key = action.path ? String(valueAt(current, action.path) ?? '') : current.messageId;
        if (unitHash(key) >= action.percent) return null;
      } else {
        current = editFields(current, action.fields, action.type === 'allow_properties');
      }
    }
  }
  return current;
}
