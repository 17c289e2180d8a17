// Pure: a computed trait's value for a sample of real profiles, from the insights rollups (the
// events' names, properties, context and times, per profile, merges unified). The Profile objects
// hold the exact events but reading them means one Durable Object call per profile; the rollups
// answer a builder's preview from one D1 range read.
import { compileDefinitions } from '../audiences/compile';
import type { ComputedTrait } from '../audiences/definitions';
import { evaluateProfile, type SnapshotEvent } from '../audiences/evaluate';
import type { RollupRow } from './rollup';

/** Profiles a preview shows. */
export const PREVIEW_PROFILES = 20;
/** Events rebuilt per profile at most (a row's count can be far larger than its kept times). */
const EVENTS_PER_PROFILE = 1000;

export interface TraitPreview {
  profiles: { profileId: string; events: number; value: unknown }[];
  /** Unified profiles that did the event in the range. */
  matchingProfiles: number;
  caveats: string[];
}

/** The events a rollup variant stands for: `count` occurrences, timed by its kept times. */
function eventsOf(row: RollupRow, room: number): SnapshotEvent[] {
  const dims = JSON.parse(row.dims) as { properties?: Record<string, unknown>; context?: Record<string, unknown> };
  const out: SnapshotEvent[] = [];
  const last = row.times.at(-1) ?? row.hour * 3_600_000;
  for (let i = 0; i < Math.min(row.count, room); i++) {
    out.push({
      type: 'track',
      event: row.event,
      properties: dims.properties ?? {},
      context: dims.context ?? {},
      timestamp: row.times[i] ?? last,
    });
  }
  return out;
}

/** Evaluates `trait` over the rows' profiles (first `PREVIEW_PROFILES` by id), as the Profile objects would. */
export function previewTrait(
  trait: ComputedTrait,
  rows: readonly RollupRow[],
  unify: (id: string) => string,
  now: number,
): TraitPreview {
  const byProfile = new Map<string, RollupRow[]>();
  for (const r of rows) {
    const id = unify(r.profileId);
    const list = byProfile.get(id) ?? [];
    list.push(r);
    byProfile.set(id, list);
  }
  const set = compileDefinitions({
    revision: 0,
    computedTraits: [{ id: 'ct_preview', version: 0, definition: trait }],
    audiences: [],
  });
  const caveats: string[] = [];
  let clipped = false;
  const ids = [...byProfile.keys()].sort().slice(0, PREVIEW_PROFILES);
  const profiles = ids.map((profileId) => {
    const events: SnapshotEvent[] = [];
    for (const r of byProfile.get(profileId) ?? []) {
      const room = EVENTS_PER_PROFILE - events.length;
      if (r.count > r.times.length || r.count > room) clipped = true;
      if (room > 0) events.push(...eventsOf(r, room));
    }
    const value = evaluateProfile(set, { traits: {}, events }, now).computed[trait.key];
    return { profileId, events: events.length, value: value ?? null };
  });
  if (clipped)
    caveats.push(
      'Some events share a kept timestamp (rollups keep 200 per hour and distinct properties); first/last may differ slightly.',
    );
  caveats.push(
    'From the insights rollups: event names, properties and context as received; the saved trait reads each profile.',
  );
  return { profiles, matchingProfiles: byProfile.size, caveats };
}
