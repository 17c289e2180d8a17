import { RefreshAheadCache } from '../lib/refresh-ahead';
import { type CompiledPlan, compilePlan } from './plan';
import { DEFAULT_SCHEMA_SETTINGS, Rule, SchemaSettings } from './rules';
import { currentGovernanceRevision, loadGovernance } from './store';
import { TransformationBody } from './transformations';

/**
 * How long an isolate trusts its cached configuration before asking D1 for the revision again (a
 * change applies everywhere within it). Past half of it a request checks in the background and
 * keeps the cached configuration (src/lib/refresh-ahead.ts).
 */
export const REVALIDATE_MS = 5_000;

/** What governs one source: its compiled plan (if any) and its schema controls. */
export interface SourceGovernance {
  plan: CompiledPlan | null;
  settings: SchemaSettings;
  /** The source's own transformations (not destination-scoped), in order. */
  transformations: TransformationBody[];
}

interface Entry {
  revision: number;
  plans: Map<string, CompiledPlan>;
  planOf: Map<string, string>;
  settings: Map<string, SchemaSettings>;
  /** Transformations by `sourceId` (source-scoped) and by `sourceId/destinationId`. */
  transforms: Map<string, TransformationBody[]>;
  byDestination?: DestinationTransformations;
}
const cache = new RefreshAheadCache<'', Entry>({ ttlMs: REVALIDATE_MS });

async function load(d1: D1Database): Promise<Entry> {
  const { revision, plans, links, settings, transforms } = await loadGovernance(d1);
  const byScope = new Map<string, TransformationBody[]>();
  for (const row of transforms) {
    const parsed = TransformationBody.safeParse(row.body);
    if (!parsed.success) {
      console.warn(`transformation ${row.id}: skipping an invalid stored document`);
      continue;
    }
    const scope = row.destinationId ? `${row.sourceId}/${row.destinationId}` : row.sourceId;
    byScope.set(scope, [...(byScope.get(scope) ?? []), parsed.data]);
  }
  const compiled = new Map<string, CompiledPlan>();
  for (const row of plans) {
    // A stored rule that no longer validates is skipped rather than stopping the whole plan.
    const rules = row.rules.flatMap((r) => {
      const parsed = Rule.safeParse(r);
      if (!parsed.success) console.warn(`tracking plan ${row.id}: skipping an invalid stored rule`);
      return parsed.success ? [parsed.data] : [];
    });
    compiled.set(row.id, compilePlan(row.id, rules));
  }
  return {
    revision,
    plans: compiled,
    planOf: new Map(links.map((l) => [l.sourceId, l.planId])),
    settings: new Map(settings.map((s) => [s.sourceId, SchemaSettings.parse(s.settings)])),
    transforms: byScope,
  };
}

/**
 * The governance of a source, cached per isolate by revision: one small D1 read every half
 * REVALIDATE_MS at most while traffic flows (in the background), and a reload only when a plan,
 * connection or setting changed.
 */
export async function governanceFor(
  d1: D1Database,
  sourceId: string,
  now = Date.now(),
  keepAlive?: (p: Promise<unknown>) => void,
): Promise<SourceGovernance> {
  const current = await currentEntry(d1, now, keepAlive);
  const planId = current.planOf.get(sourceId);
  return {
    plan: (planId && current.plans.get(planId)) || null,
    settings: current.settings.get(sourceId) ?? DEFAULT_SCHEMA_SETTINGS,
    transformations: current.transforms.get(sourceId) ?? [],
  };
}

/** Destination-scoped transformations: destination id → source id → transformations, in order. */
export type DestinationTransformations = ReadonlyMap<string, ReadonlyMap<string, TransformationBody[]>>;

/** The destination-scoped transformations (run in delivery, before each destination's filters). */
export async function destinationTransformations(
  d1: D1Database,
  now = Date.now(),
): Promise<DestinationTransformations> {
  const current = await currentEntry(d1, now);
  if (!current.byDestination) {
    const out = new Map<string, Map<string, TransformationBody[]>>();
    for (const [scope, list] of current.transforms) {
      const [sourceId, destinationId] = scope.split('/');
      if (!destinationId) continue;
      const bySource = out.get(destinationId) ?? new Map<string, TransformationBody[]>();
      bySource.set(sourceId, list);
      out.set(destinationId, bySource);
    }
    current.byDestination = out;
  }
  return current.byDestination;
}

/** `keepAlive` (a request's `waitUntil`) lets a check past half the interval run in the background. */
function currentEntry(d1: D1Database, now: number, keepAlive?: (p: Promise<unknown>) => void): Promise<Entry> {
  const revalidate = async (previous: Entry | undefined) =>
    previous && (await currentGovernanceRevision(d1)) === previous.revision ? previous : load(d1);
  return cache.get('', { load: revalidate, now, keepAlive });
}

/** Forgets the cache (after a write in this isolate, so its own change applies at once). */
export function clearGovernanceCache(): void {
  cache.clear();
}
