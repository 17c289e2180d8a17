import { z } from 'zod';
import { schemaProblems } from './meta-schema';

/** What a rule applies to (Segment's tracking plan rule types). */
export const RuleType = z.enum(['TRACK', 'IDENTIFY', 'GROUP', 'PAGE', 'SCREEN', 'COMMON']);
export type RuleType = z.infer<typeof RuleType>;

/** One rule: a draft-07 JSON Schema over the whole event (`properties`, `traits`, `context`). */
export const Rule = z
  .strictObject({
    type: RuleType,
    key: z.string().min(1).max(200).optional().describe('The event name, for TRACK (and optionally PAGE/SCREEN names)'),
    jsonSchema: z.record(z.string(), z.unknown()).describe('Draft-07 JSON Schema over the whole event'),
    version: z.number().int().min(1).optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.type === 'TRACK' && !rule.key) ctx.addIssue({ code: 'custom', message: 'a TRACK rule needs `key`' });
    if (['IDENTIFY', 'GROUP', 'COMMON'].includes(rule.type) && rule.key) {
      ctx.addIssue({ code: 'custom', message: `a ${rule.type} rule has no \`key\`` });
    }
    for (const problem of schemaProblems(rule.jsonSchema)) {
      ctx.addIssue({ code: 'custom', path: ['jsonSchema'], message: `not a valid JSON Schema: ${problem}` });
    }
  });
export type Rule = z.infer<typeof Rule>;

export const MAX_RULES = 2000;

/** Rules of a plan: at most one per type and key. */
export const Rules = z
  .array(Rule)
  .max(MAX_RULES)
  .superRefine((rules, ctx) => {
    const seen = new Set<string>();
    rules.forEach((r, i) => {
      const id = ruleId(r);
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [i], message: `a second rule for ${id}` });
      seen.add(id);
    });
  });

/** `TRACK:Order Completed`, `IDENTIFY`, `PAGE:Pricing`, `PAGE`, `COMMON`. */
export const ruleId = (r: { type: RuleType; key?: string }) => (r.key ? `${r.type}:${r.key}` : r.type);

export const CreateTrackingPlan = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  rules: Rules.default([]),
});
export const UpdateTrackingPlan = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
});

const Common = z.enum(['ALLOW', 'BLOCK', 'OMIT_PROPS']).default('ALLOW');
const TraitControls = z
  .strictObject({
    allowTraitsOnViolations: z.boolean().default(true),
    allowUnplannedTraits: z.boolean().default(true),
    commonEventOnViolations: Common,
  })
  .prefault({});

/** Segment's per-source `schemaSettings`; everything is allowed until set. */
export const SchemaSettings = z.strictObject({
  track: z
    .strictObject({
      allowUnplannedEvents: z.boolean().default(true),
      allowUnplannedEventProperties: z.boolean().default(true),
      allowEventOnViolations: z.boolean().default(true),
      allowPropertiesOnViolations: z.boolean().default(true),
      commonEventOnViolations: Common,
    })
    .prefault({}),
  identify: TraitControls,
  group: TraitControls,
  forwardingBlockedEventsTo: z.string().min(1).max(100).optional().describe('Source id that receives blocked events'),
  forwardingViolationsTo: z.string().min(1).max(100).optional().describe('Source id that receives Violation Generated'),
});
export type SchemaSettings = z.infer<typeof SchemaSettings>;
export const DEFAULT_SCHEMA_SETTINGS: SchemaSettings = SchemaSettings.parse({});
