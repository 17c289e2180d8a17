import type { ObservedEvent } from './observed';
import type { Rule, RuleType } from './rules';

const TYPES: Record<string, RuleType> = {
  track: 'TRACK',
  identify: 'IDENTIFY',
  group: 'GROUP',
  page: 'PAGE',
  screen: 'SCREEN',
};

/**
 * Rules that describe observed traffic: each field with the types seen, required when every
 * observed event of that name had it. A starting point to edit, not a verdict on the data.
 */
export function draftRules(observed: readonly ObservedEvent[]): Rule[] {
  const rules: Rule[] = [];
  for (const e of observed) {
    const type = TYPES[e.type];
    if (!type || (type === 'TRACK' && !e.name)) continue;
    const section = type === 'IDENTIFY' || type === 'GROUP' ? 'traits' : 'properties';
    const props: Record<string, unknown> = {};
    const required: string[] = [];
    for (const f of e.fields) {
      if (!f.field.startsWith(`${section}.`)) continue;
      const key = f.field.slice(section.length + 1);
      props[key] = { type: f.types.length === 1 ? f.types[0] : f.types };
      if (e.count > 0 && f.count >= e.count) required.push(key);
    }
    const schema = { type: 'object', properties: props, ...(required.length ? { required: required.sort() } : {}) };
    const keyed = type === 'TRACK' || ((type === 'PAGE' || type === 'SCREEN') && e.name);
    rules.push({
      type,
      ...(keyed ? { key: e.name } : {}),
      jsonSchema: { type: 'object', properties: { [section]: schema } },
    });
  }
  // One rule per type and key: identify/group without a name merge into the first seen.
  const seen = new Set<string>();
  return rules.filter((r) => {
    const id = `${r.type}:${r.key ?? ''}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
