import { z } from 'zod';
import { parseFql } from '../lib/fql';
import { type Condition, checkCondition, FqlString, Window } from './conditions';

export type { Condition, DefinitionIssue } from './conditions';
export { formatPath } from './conditions';

/** What a computed trait calculates over the matching events. */
export const COMPUTED_TRAIT_TYPES = [
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'first',
  'last',
  'most_frequent',
  'unique_list',
  'unique_count',
] as const;
export type ComputedTraitType = (typeof COMPUTED_TRAIT_TYPES)[number];

/** Keys become trait names on profiles, so audiences and computed traits share one snake_case namespace. */
export const DefinitionKey = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,99}$/, 'must be snake_case: a-z, 0-9 and _, starting with a letter, at most 100 chars')
  .refine((k) => k !== 'preview', '"preview" is reserved')
  .describe('Trait name on the profile, e.g. "orders_30d"');

/** A dot path into the event, e.g. "properties.total"; the FQL field-path syntax (backslash escapes). */
export const PropertyPath = z
  .string()
  .max(500)
  .refine((p) => propertyPath(p) !== null, 'must be a field path like "properties.total"')
  .describe('Field of the event to aggregate, e.g. "properties.total"');

/** The segments of a property path, or null when it is not a plain field path. */
export function propertyPath(source: string): string[] | null {
  try {
    const node = parseFql(source);
    return node.type === 'path' ? node.path : null;
  } catch {
    return null;
  }
}

const EMITS = ['identify', 'track'] as const;
const common = {
  key: DefinitionKey,
  name: z.string().trim().min(1).max(200).describe('A name people recognise'),
  emit: z.enum(EMITS).default('identify').describe('identify sets trait <key>; track sends an event'),
  destinationIds: z.array(z.string().min(1).max(100)).max(100).default([]).describe('Destinations that receive it'),
  public: z.boolean().default(false).describe('Exposed to GET /v1/personalize with the write key'),
  collection: z.enum(['users', 'accounts']).default('users').describe('Profiles it is computed over'),
};

/** A computed trait: `{ key, name, type, event, where, property, within }`. */
export const ComputedTrait = z
  .strictObject({
    ...common,
    type: z.enum(COMPUTED_TRAIT_TYPES),
    event: z.string().trim().min(1).max(200).describe('Track event name, or "*" for every event'),
    where: FqlString.optional(),
    property: PropertyPath.optional(),
    within: Window.optional().describe('Only events in this look-back window; absent for all time'),
  })
  .superRefine((t, ctx) => {
    if (t.type !== 'count' && t.property === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['property'],
        message: `a ${t.type} trait needs the event property to use`,
      });
    }
    if (t.type === 'count' && t.property !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['property'],
        message: 'a count trait counts events and takes no property',
      });
    }
  });
export type ComputedTrait = z.infer<typeof ComputedTrait>;

/** The definition tree, validated node by node so errors name the node (e.g. `definition.and[1].count`). */
export const AudienceDefinition = z
  .unknown()
  .superRefine((value, ctx) => {
    const issues: { path: (string | number)[]; message: string }[] = [];
    checkCondition(value, [], issues);
    for (const i of issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
  })
  .transform((v) => v as Condition);

/** An audience: `{ key, name, definition, emit, destinationIds, public? }`. */
export const Audience = z.strictObject({
  ...common,
  definition: AudienceDefinition,
});
export type Audience = z.infer<typeof Audience>;

/** Body of `POST /api/audiences/preview`: a definition, optionally with example profiles to test it on. */
export const AudiencePreview = z.strictObject({
  definition: AudienceDefinition,
  collection: common.collection,
  profiles: z.array(z.unknown()).max(100).optional().describe('Example profile snapshots to evaluate against'),
});
