import { z } from 'zod';
import type { DefinitionSet } from './compile';
import { walkCondition } from './conditions';
import type { Audience } from './definitions';
import { type AudienceSnapshot, evaluateProfile } from './evaluate';

/** Where the profiles of an estimate came from; the answer always says which. */
export type EstimateBasis = 'provided_profiles' | 'profile_directory_traits' | 'no_profiles';

export interface SizeEstimate {
  estimate: number;
  matched: number;
  sampled: number;
  total: number;
  basis: EstimateBasis;
  /** False when the sample could not show everything the definition looks at (e.g. events). */
  exact: boolean;
  caveats: string[];
}

/** An example profile in a preview request: traits and (optionally) events with timestamps. */
export const PreviewProfile = z.strictObject({
  traits: z.record(z.string(), z.unknown()).default({}),
  events: z
    .array(z.looseObject({ timestamp: z.union([z.string(), z.number()]), event: z.string().optional() }))
    .max(1000)
    .default([]),
});

/**
 * Estimates an audience's size from sample profiles: the share of the sample that matches, scaled
 * to `total`. Pure, so the Profile store can feed it real snapshots (with events) once it is wired.
 */
export function estimateAudienceSize(
  set: DefinitionSet,
  key: string,
  sample: { snapshots: readonly AudienceSnapshot[]; total: number; basis: EstimateBasis },
  now: number,
): SizeEstimate {
  let matched = 0;
  for (const s of sample.snapshots) if (evaluateProfile(set, s, now).audiences[key]) matched++;
  const sampled = sample.snapshots.length;
  const estimate = sampled === 0 ? 0 : Math.round((matched / sampled) * sample.total);
  const caveats: string[] = [];
  let exact = sampled === sample.total;
  if (sample.basis === 'no_profiles') caveats.push('No profiles exist yet, so the estimate is 0.');
  if (sample.basis === 'profile_directory_traits' && needsEvents(set, key)) {
    exact = false;
    caveats.push(
      'The directory holds traits only; event and computed-trait conditions were evaluated as if profiles had no events. ' +
        'Event data lives in each Profile Durable Object and is used once the back-fill runs.',
    );
  }
  if (sampled < sample.total)
    caveats.push(`Extrapolated from a random sample of ${sampled} of ${sample.total} profiles.`);
  return { estimate, matched, sampled, total: sample.total, basis: sample.basis, exact, caveats };
}

/** True when an audience (or one it references) looks at events or computed traits. */
export function needsEvents(set: DefinitionSet, key: string): boolean {
  const byKey = new Map(set.audiences.map((a) => [a.definition.key, a.definition]));
  const seen = new Set<string>();
  const visit = (def: Audience | undefined): boolean => {
    if (!def || seen.has(def.key)) return false;
    seen.add(def.key);
    let uses = false;
    walkCondition(def.definition, (node) => {
      if ('event' in node || 'computed' in node) uses = true;
      else if ('audience' in node && visit(byKey.get(node.audience))) uses = true;
    });
    return uses;
  };
  return visit(byKey.get(key));
}
