import { eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { db } from '../db/client';
import { type DestinationRow, destinations } from '../db/destinations-schema';
import { sources } from '../db/schema';
import { deliveryConfig } from '../delivery/config';
import { DestinationFilter, filterProblems } from '../delivery/filters';
import { describeUrlProblem, urlProblem } from '../delivery/ssrf';
import { destinationType } from '../destinations/registry';
import type { AnyDestination } from '../destinations/types';
import { describeIssues } from '../ingest/spec';
import { badRequest, notFound } from '../lib/errors';
import { isObject } from '../lib/json';

/** Fields a destination is configured with (POST body; PUT replaces them, PATCH changes some). */
export const DestinationInput = z.object({
  type: z.string().min(1).describe('Destination type, one of GET /api/destinations/catalog'),
  name: z.string().trim().min(1).max(200).describe('A name people recognise, e.g. "Mixpanel (prod)"'),
  sourceIds: z
    .array(z.string().min(1))
    .max(200)
    .default([])
    .describe('Sources whose events it receives; ["*"] means every source'),
  settings: z.record(z.string(), z.unknown()).default({}).describe("Validated by the type's settings schema"),
  enabled: z.boolean().default(true),
  filters: z.array(DestinationFilter).max(50).default([]).describe('Destination filters, applied in order'),
  consentCategories: z
    .array(z.string().min(1).max(100))
    .max(20)
    .nullable()
    .optional()
    .describe("Consent categories this destination needs; null = the type's default"),
});
export type DestinationInput = z.infer<typeof DestinationInput>;
export const DestinationPatch = DestinationInput.partial();

const MASK = '****';

/** A secret shown without giving it away: the last 4 characters of long values only. */
export function maskValue(v: unknown): unknown {
  if (typeof v === 'string') return v.length >= 16 ? `${MASK}${v.slice(-4)}` : MASK;
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskValue(x)]));
  return v === undefined ? undefined : MASK;
}

/** Settings as the API shows them: secret keys masked. */
export function maskSettings(def: AnyDestination | undefined, settings: Record<string, unknown>) {
  const out = { ...settings };
  for (const key of def?.secrets ?? []) if (out[key] !== undefined) out[key] = maskValue(out[key]);
  return out;
}

/** A masked value sent back unchanged (a console round-trip) keeps the stored secret. */
function unmask(incoming: unknown, stored: unknown): unknown {
  if (typeof incoming === 'string' && incoming.startsWith(MASK) && maskValue(stored) === incoming) return stored;
  if (isObject(incoming) && isObject(stored)) {
    return Object.fromEntries(Object.entries(incoming).map(([k, v]) => [k, unmask(v, stored[k])]));
  }
  return incoming;
}

/**
 * Validates settings against the type's schema and checks the URLs people typed (SSRF). Secret
 * values sent back masked are restored from `stored`. Returns the parsed settings (defaults applied).
 */
export function checkSettings(
  env: Cloudflare.Env,
  def: AnyDestination,
  input: Record<string, unknown>,
  stored: Record<string, unknown> = {},
): Record<string, unknown> {
  const restored: Record<string, unknown> = { ...input };
  for (const key of def.secrets) if (key in restored) restored[key] = unmask(restored[key], stored[key]);
  const parsed = def.settings.safeParse(restored);
  if (!parsed.success) {
    throw badRequest(`Invalid ${def.name} settings: ${describeIssues(parsed.error)}`, parsed.error.issues);
  }
  const settings = parsed.data as Record<string, unknown>;
  const { allowLoopback } = deliveryConfig(env);
  for (const url of def.urls?.(settings) ?? []) {
    const problem = urlProblem(url, { allowLoopback });
    if (problem) throw badRequest(`Invalid ${def.name} settings: ${describeUrlProblem(url, problem)}`);
  }
  return settings;
}

/** FQL conditions must parse; source ids must exist. */
export async function checkRouting(env: Cloudflare.Env, input: { filters: DestinationFilter[]; sourceIds: string[] }) {
  const problem = filterProblems(input.filters);
  if (problem) throw badRequest(`Invalid filter: ${problem}`);
  const ids = input.sourceIds.filter((s) => s !== '*');
  if (!ids.length) return;
  const found = await db(env.DB).select({ id: sources.id }).from(sources).where(inArray(sources.id, ids)).all();
  const missing = ids.filter((id) => !found.some((f) => f.id === id));
  if (missing.length) throw badRequest(`Unknown source ids: ${missing.join(', ')}`);
}

/** How a destination is shown by the API. */
export function destinationView(row: DestinationRow, def: AnyDestination | undefined) {
  return {
    id: row.id,
    type: row.type,
    name: row.name,
    enabled: row.enabled,
    sourceIds: row.sourceIds,
    settings: maskSettings(def, row.settings),
    filters: row.filters,
    consentCategories: row.consentCategories ?? def?.consentCategories ?? [],
    consentCategoriesOverridden: row.consentCategories !== null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Loads a destination row and its type, or 404. */
export async function loadDestination(
  d1: D1Database,
  id: string,
): Promise<{ row: DestinationRow; def?: AnyDestination }> {
  const row = await db(d1).select().from(destinations).where(eq(destinations.id, id)).get();
  if (!row) throw notFound(`Destination ${id}`);
  return { row, def: destinationType(row.type) };
}
