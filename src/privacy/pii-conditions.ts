import type { Condition, DefinitionIssue } from '../audiences/definitions';
import { isObject } from '../lib/json';
import { openDeep, sealFields, sealTrait } from './pii';
import type { Pii } from './pii-guard';

/** Operators a sealed PII trait can be tested with: by equality tag (`=`, `!=`, `in`) or presence. */
export const SEALED_OPS = new Set(['=', '!=', 'in', 'exists']);

/**
 * An audience definition as D1 keeps it when PII sealing is on: the literal of each condition on a
 * PII trait sealed with its equality tag (`sealTrait`), so the definition holds no clear email and
 * evaluation compares tags without opening a profile's values (`applySealedOp`). Operators a tag
 * cannot answer (`contains`, `starts_with`, `>`…) and paths into a sealed object are listed as
 * issues: refused when saved, rather than silently never matching. Without `PII_KEY`, unchanged.
 */
export async function sealDefinitionLiterals(
  pii: Pii,
  definition: Condition,
): Promise<{ definition: Condition; issues: DefinitionIssue[] }> {
  const issues: DefinitionIssue[] = [];
  const ring = pii.ring;
  if (!ring) return { definition, issues };
  const visit = async (node: Condition, at: (string | number)[]): Promise<Condition> => {
    if ('and' in node) return { and: await Promise.all(node.and.map((c, i) => visit(c, [...at, 'and', i]))) };
    if ('or' in node) return { or: await Promise.all(node.or.map((c, i) => visit(c, [...at, 'or', i]))) };
    if ('not' in node) return { not: await visit(node.not, [...at, 'not']) };
    if (!('trait' in node)) return node;
    const key = node.trait;
    if (!pii.keys.has(key)) {
      const head = key.split('.')[0];
      if (key.includes('.') && pii.keys.has(head))
        issues.push({
          path: [...at, 'trait'],
          message: `"${head}" is a PII trait sealed at rest: its fields cannot be tested`,
        });
      return node;
    }
    if (!SEALED_OPS.has(node.op)) {
      issues.push({
        path: [...at, 'op'],
        message: `"${key}" is a PII trait sealed at rest: test it with =, !=, in or exists (not "${node.op}")`,
      });
      return node;
    }
    // `= null` asks for an absent value: a plain comparison answers it, nothing to seal.
    if (node.op === 'exists' || node.value === null) return node;
    const value =
      node.op === 'in' && Array.isArray(node.value)
        ? await Promise.all(node.value.map((v) => sealTrait(ring, key, v)))
        : await sealTrait(ring, key, node.value);
    return { ...node, value };
  };
  return { definition: await visit(definition, ['definition']), issues };
}

/** A definition view with its sealed literals opened for a reader allowed to see PII, else as stored. */
export async function showDefinition<T>(pii: Pii, clear: boolean, view: T): Promise<T> {
  return clear && pii.ring ? ((await openDeep(pii.ring, view)) as T) : view;
}

/** Preview profiles given in clear, with their PII traits sealed as profiles keep them. */
export async function sealPreviewTraits<T extends { traits: Record<string, unknown> }>(pii: Pii, profiles: T[]) {
  const ring = pii.ring;
  if (!ring) return profiles;
  return Promise.all(
    profiles.map(async (p) => (isObject(p.traits) ? { ...p, traits: await sealFields(ring, p.traits, pii.keys) } : p)),
  );
}
