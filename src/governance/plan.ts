import { type OutputUnit, type Schema, Validator } from '@cfworker/json-schema';
import { type Rule, type RuleType, ruleId, type SchemaSettings } from './rules';

/** One way an event broke its plan, as Segment's `Violation Generated` names it. */
export interface Violation {
  type: 'Required' | 'Invalid Type' | 'Invalid Value' | 'Invalid Enum' | 'Unplanned';
  /** Dot path into the event, e.g. `properties.price`. */
  field: string;
  description: string;
  /** COMMON when the common rule raised it. */
  rule: RuleType;
}

interface CompiledRule {
  rule: Rule;
  validator: Validator;
  /** The same schema, stopping at the first error: most events are valid, and this tells fastest. */
  quick: Validator;
  /** Keys the rule plans under `properties` (track, page, screen) or `traits` (identify, group). */
  planned: Set<string> | null;
}

export interface CompiledPlan {
  id: string;
  rules: Map<string, CompiledRule>;
}

/** What governance decided for one event. */
export interface Verdict {
  blocked: boolean;
  /** Why it was blocked, for the debugger. */
  reason?: string;
  /** The event to forward: properties or traits omitted, `context.protocols` added. */
  event: Record<string, unknown>;
  violations: Violation[];
  omitted: string[];
}

const MAX_LISTED = 50;
/** Keywords whose error only wraps a deeper one that says more. */
const WRAPPERS = new Set([
  'properties',
  'patternProperties',
  'additionalProperties',
  'items',
  'additionalItems',
  'allOf',
  '$ref',
  'if',
  'then',
  'else',
  'dependencies',
  'contains',
  'propertyNames',
]);

/** Compiles a plan's rules once; validators never generate code (`@cfworker/json-schema`). */
export function compilePlan(id: string, rules: readonly Rule[]): CompiledPlan {
  const compiled = new Map<string, CompiledRule>();
  for (const rule of rules) {
    const section = rule.type === 'IDENTIFY' || rule.type === 'GROUP' ? 'traits' : 'properties';
    const props = (rule.jsonSchema as Schema).properties?.[section];
    const plannedKeys = props && typeof props === 'object' ? props.properties : undefined;
    compiled.set(ruleId(rule), {
      rule,
      validator: new Validator(rule.jsonSchema as Schema, '7', false),
      quick: new Validator(rule.jsonSchema as Schema, '7', true),
      planned: plannedKeys ? new Set(Object.keys(plannedKeys)) : null,
    });
  }
  return { id, rules: compiled };
}

function pathOf(pointer: string): string[] {
  return pointer
    .replace(/^#\/?/, '')
    .split('/')
    .filter(Boolean)
    .map((s) => {
      let v = s;
      try {
        v = decodeURIComponent(s);
      } catch {}
      return v.replace(/~1/g, '/').replace(/~0/g, '~');
    });
}

/** The leaf errors of a validation, as violations with event paths. */
export function violationsOf(errors: readonly OutputUnit[], rule: RuleType): Violation[] {
  const out: Violation[] = [];
  for (const e of errors) {
    if (WRAPPERS.has(e.keyword)) continue;
    const path = pathOf(e.instanceLocation);
    let type: Violation['type'] = 'Invalid Value';
    if (e.keyword === 'required') {
      type = 'Required';
      const missing = /required property "(.*)"/.exec(e.error)?.[1];
      if (missing !== undefined) path.push(missing);
    } else if (e.keyword === 'type') type = 'Invalid Type';
    else if (e.keyword === 'enum' || e.keyword === 'const') type = 'Invalid Enum';
    else if (e.keyword === 'false') type = 'Unplanned';
    out.push({ type, field: path.join('.') || '(event)', description: e.error, rule });
  }
  return out;
}

/** The violations of an event against one rule; the full error list only for an invalid event. */
function check(rule: CompiledRule, event: Record<string, unknown>, type: RuleType): Violation[] {
  return rule.quick.validate(event).valid ? [] : violationsOf(rule.validator.validate(event).errors, type);
}

/** Whether `deletePath` would find the field (same walk), so a copy is made only when needed. */
function hasPath(event: Record<string, unknown>, field: string): boolean {
  const path = field.split('.');
  let node: unknown = event;
  for (const key of path.slice(0, -1)) {
    if (!node || typeof node !== 'object') return false;
    node = (node as Record<string, unknown>)[key];
  }
  return !!node && typeof node === 'object' && path[path.length - 1] in node;
}

function deletePath(event: Record<string, unknown>, field: string): boolean {
  const path = field.split('.');
  let node: unknown = event;
  for (const key of path.slice(0, -1)) {
    if (!node || typeof node !== 'object') return false;
    node = (node as Record<string, unknown>)[key];
  }
  const last = path[path.length - 1];
  if (!node || typeof node !== 'object' || !(last in node)) return false;
  delete (node as Record<string, unknown>)[last];
  return true;
}

function specificRule(plan: CompiledPlan, event: Record<string, unknown>): { id: string; rule?: CompiledRule } {
  const type = String(event.type).toUpperCase();
  if (type === 'TRACK') {
    const id = `TRACK:${String(event.event)}`;
    return { id, rule: plan.rules.get(id) };
  }
  if (type === 'PAGE' || type === 'SCREEN') {
    const named = typeof event.name === 'string' ? plan.rules.get(`${type}:${event.name}`) : undefined;
    return { id: type, rule: named ?? plan.rules.get(type) };
  }
  return { id: type, rule: plan.rules.get(type) };
}

/**
 * Applies a plan and a source's schema controls to one event, with Segment's meaning: unplanned
 * or violating events may be blocked, violating or unplanned properties/traits omitted, and what
 * stays is annotated in `context.protocols`. Pure: the input event is not changed.
 */
export function govern(plan: CompiledPlan, settings: SchemaSettings, input: Record<string, unknown>): Verdict {
  // Copied only once something is to change: a valid event is passed on as it came.
  let event = input;
  const writable = () => {
    if (event === input) event = structuredClone(input);
    return event;
  };
  const type = String(event.type);
  const traitsKind = type === 'identify' || type === 'group';
  const controls = type === 'identify' ? settings.identify : type === 'group' ? settings.group : settings.track;
  const section = traitsKind ? 'traits' : 'properties';
  const violations: Violation[] = [];
  const omitted: string[] = [];
  const omit = (field: string) => {
    if (!field.startsWith(`${section}.`) && !field.startsWith('context.')) return;
    if (hasPath(event, field) && deletePath(writable(), field)) omitted.push(field);
  };
  const block = (reason: string): Verdict => ({ blocked: true, reason, event: input, violations, omitted: [] });

  const { id, rule } = specificRule(plan, event);
  if (!rule && type === 'track' && !settings.track.allowUnplannedEvents)
    return block(`${id} is not in the tracking plan`);
  if (rule) {
    const found = check(rule, event, rule.rule.type);
    violations.push(...found);
    if (found.length && type === 'track' && !settings.track.allowEventOnViolations) {
      return block(`${found.length} violation(s) of ${id}`);
    }
    const dropViolating = traitsKind
      ? !(controls as SchemaSettings['identify']).allowTraitsOnViolations
      : type === 'track' && !settings.track.allowPropertiesOnViolations;
    if (dropViolating) for (const v of found) if (v.type !== 'Required') omit(v.field);
    const dropUnplanned = traitsKind
      ? !(controls as SchemaSettings['identify']).allowUnplannedTraits
      : type === 'track' && !settings.track.allowUnplannedEventProperties;
    const values = event[section];
    if (dropUnplanned && rule.planned && values && typeof values === 'object') {
      for (const key of Object.keys(values)) if (!rule.planned.has(key)) omit(`${section}.${key}`);
    }
  }
  const common = plan.rules.get('COMMON');
  if (common) {
    const found = check(common, event, 'COMMON');
    violations.push(...found);
    if (found.length && controls.commonEventOnViolations === 'BLOCK')
      return block(`${found.length} common violation(s)`);
    if (controls.commonEventOnViolations === 'OMIT_PROPS')
      for (const v of found) if (v.type !== 'Required') omit(v.field);
  }
  if (violations.length || omitted.length) {
    const context = (event.context && typeof event.context === 'object' ? event.context : {}) as Record<
      string,
      unknown
    >;
    const protocols: Record<string, unknown> = { sourceTrackingPlan: plan.id };
    if (violations.length) {
      protocols.violations = violations
        .slice(0, MAX_LISTED)
        .map(({ type: t, field, description }) => ({ type: t, field, description }));
    }
    if (omitted.length) protocols.omitted = omitted.slice(0, MAX_LISTED);
    writable().context = { ...context, protocols };
  }
  return { blocked: false, event, violations, omitted };
}
