import { type CompiledPlan, compilePlan } from './plan';
import { DEFAULT_SCHEMA_SETTINGS, Rule, SchemaSettings } from './rules';
import { currentGovernanceRevision, loadGovernance } from './store';

/** How long an isolate trusts its cached configuration before asking D1 for the revision again. */
export const REVALIDATE_MS = 5_000;

/** What governs one source: its compiled plan (if any) and its schema controls. */
export interface SourceGovernance {
  plan: CompiledPlan | null;
  settings: SchemaSettings;
}

interface Entry {
  revision: number;
  checkedAt: number;
  plans: Map<string, CompiledPlan>;
  planOf: Map<string, string>;
  settings: Map<string, SchemaSettings>;
}
let entry: Entry | undefined;
let loading: Promise<Entry> | undefined;

async function load(d1: D1Database, now: number): Promise<Entry> {
  const { revision, plans, links, settings } = await loadGovernance(d1);
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
    checkedAt: now,
    plans: compiled,
    planOf: new Map(links.map((l) => [l.sourceId, l.planId])),
    settings: new Map(settings.map((s) => [s.sourceId, SchemaSettings.parse(s.settings)])),
  };
}

/**
 * The governance of a source, cached per isolate by revision: at most one small D1 read every
 * REVALIDATE_MS on the hot path, and a reload only when a plan, connection or setting changed.
 */
export async function governanceFor(d1: D1Database, sourceId: string, now = Date.now()): Promise<SourceGovernance> {
  if (!entry || now - entry.checkedAt >= REVALIDATE_MS) {
    if (entry && (await currentGovernanceRevision(d1)) === entry.revision) entry.checkedAt = now;
    else {
      loading ??= load(d1, now).finally(() => {
        loading = undefined;
      });
      entry = await loading;
    }
  }
  const planId = entry.planOf.get(sourceId);
  return {
    plan: (planId && entry.plans.get(planId)) || null,
    settings: entry.settings.get(sourceId) ?? DEFAULT_SCHEMA_SETTINGS,
  };
}

/** Forgets the cache (after a write in this isolate, so its own change applies at once). */
export function clearGovernanceCache(): void {
  entry = undefined;
}
