import { followMerges } from '../lib/merge-pointers';
import { profileStub } from '../profiles/protocol';
import type { EngageValue } from '../profiles/rpc';
import { emptyValue } from './aggregate';
import { getDefinitions } from './cache';
import type { DefinitionSet } from './compile';
import { servableAudienceKeys } from './graph';

/**
 * A profile's stored audience and computed-trait results (all, or only `keys`), following merges
 * to the live profile. Undefined when the profile does not exist.
 */
export async function readAudienceValues(
  env: Env,
  profileId: string,
  keys?: string[],
): Promise<{ id: string; values: EngageValue[] } | undefined> {
  return followMerges<{ id: string; values: EngageValue[] } | undefined>(
    profileId,
    async (id) => {
      const res = await profileStub(env, id).audienceValues(keys);
      if (res.status === 'live') return { done: { id, values: res.values } };
      if (res.status === 'missing') return { done: undefined };
      return { next: res.to };
    },
    () => undefined,
  );
}

/** What `GET /v1/personalize` answers: public audiences (member or not) and public computed traits. */
export interface PublicValues {
  audiences: Record<string, boolean>;
  traits: Record<string, unknown>;
}

/**
 * What personalization may show of a set: computed traits marked public, and audiences that are
 * public through and through (`servableAudienceKeys`: every definition they use is public too).
 */
export function publicDefinitions(set: DefinitionSet): { audiences: Set<string>; traits: Set<string> } {
  const traits = new Set(set.computedTraits.filter((t) => t.definition.public).map((t) => t.definition.key));
  return {
    audiences: servableAudienceKeys(
      set.audiences.map((a) => a.definition),
      traits,
    ),
    traits,
  };
}

/** The public definitions' keys of a set: the only keys personalization may ever read. */
export function publicKeys(set: DefinitionSet): string[] {
  const { audiences, traits } = publicDefinitions(set);
  return [...audiences, ...traits];
}

/**
 * Shapes stored results for personalization. Only public definitions appear: each servable
 * audience as true/false, each public computed trait with its value (its empty value until
 * computed). Anything else in `values` is ignored, whatever the caller passed.
 */
export function publicValues(set: DefinitionSet, values: readonly EngageValue[]): PublicValues {
  const shown = publicDefinitions(set);
  const byKey = new Map(values.map((v) => [v.key, v]));
  const audiences: Record<string, boolean> = {};
  const traits: Record<string, unknown> = {};
  for (const a of set.audiences) {
    if (!shown.audiences.has(a.definition.key)) continue;
    const v = byKey.get(a.definition.key);
    audiences[a.definition.key] = v?.kind === 'audience' && v.value === true;
  }
  for (const t of set.computedTraits) {
    if (!shown.traits.has(t.definition.key)) continue;
    const v = byKey.get(t.definition.key);
    traits[t.definition.key] = v?.kind === 'computed_trait' ? v.value : emptyValue(t.definition.type);
  }
  return { audiences, traits };
}

/** A stored result as the Profile API lists traits (`class=audience` / `class=computed_trait`). */
export interface EngageTrait {
  key: string;
  value: unknown;
  ts: number;
  source_id: string | null;
  class: EngageValue['kind'];
}

/**
 * A profile's audiences and computed traits as Profile API traits, optionally of one class only.
 * Only results of definitions that exist now: a deleted one disappears as soon as this isolate's
 * definition cache revalidates (seconds), not at the profile's next evaluation.
 */
export async function engageTraits(env: Env, profileId: string, klass?: EngageValue['kind']): Promise<EngageTrait[]> {
  const [found, users, accounts] = await Promise.all([
    readAudienceValues(env, profileId),
    getDefinitions(env.DB, { collection: 'users' }),
    getDefinitions(env.DB, { collection: 'accounts' }),
  ]);
  const defined = new Set(
    [users, accounts].flatMap((set) => [...set.audiences, ...set.computedTraits].map((d) => d.id)),
  );
  return (found?.values ?? [])
    .filter((v) => defined.has(v.defId) && (!klass || v.kind === klass))
    .map((v) => ({ key: v.key, value: v.value, ts: v.updatedAt, source_id: null, class: v.kind }));
}
