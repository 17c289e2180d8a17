import { eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import { db } from '../db/client';
import { type DestinationRow, destinations } from '../db/destinations-schema';
import { sources } from '../db/schema';
import { deliveryConfig } from '../delivery/config';
import { DestinationFilter, filterProblems } from '../delivery/filters';
import { resolvedProblem } from '../delivery/resolve';
import { describeUrlProblem, urlProblem } from '../delivery/ssrf';
import { destinationType } from '../destinations/registry';
import type { AnyDestination } from '../destinations/types';
import { badRequest, notFound } from '../lib/errors';
import { describeIssues } from '../lib/http/body';
import { isObject } from '../lib/json';
import { openDestinationRow } from '../privacy/secrets';

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

/** Where the settings' URLs resolve (DoH, production mode): a name pointing inside a network is refused. */
export async function checkResolved(env: Cloudflare.Env, def: AnyDestination, settings: Record<string, unknown>) {
  const { allowLoopback } = deliveryConfig(env);
  for (const url of def.urls?.(settings) ?? []) {
    const problem = await resolvedProblem(url, { allowLoopback });
    if (problem) throw badRequest(`Invalid ${def.name} settings: ${describeUrlProblem(url, problem)}`);
  }
}

const hostsOf = (def: AnyDestination, settings: unknown): string[] => {
  try {
    return (def.urls?.(settings) ?? []).map((u) => new URL(u).host);
  } catch {
    return [];
  }
};

/**
 * Stored secrets must not follow a destination to another host without the person saying so:
 * when the host of one of its URLs changes, every stored secret must be given again in the same
 * request (a masked value sent back does not count). Throws 400 naming the missing fields.
 */
export function requireSecretsOnHostChange(
  def: AnyDestination,
  stored: Record<string, unknown>,
  next: Record<string, unknown>,
  given: Record<string, unknown>,
): void {
  const parsed = def.settings.safeParse(next);
  if (!parsed.success) return; // checkSettings reports it
  const before = hostsOf(def, stored);
  const after = hostsOf(def, parsed.data);
  if (before.length === after.length && before.every((h, i) => h === after[i])) return;
  const missing = def.secrets.filter((key) => {
    const value = stored[key];
    const empty = value === undefined || value === null || value === '';
    if (empty || (isObject(value) && Object.keys(value).length === 0)) return false;
    if (!(key in given)) return true;
    return JSON.stringify(given[key]) === JSON.stringify(maskValue(stored[key]));
  });
  if (missing.length) {
    throw badRequest(
      `The endpoint host changes (${before.join(', ')} → ${after.join(', ')}): give ${missing.join(', ')} again in the same request, so the stored secrets are not sent to the new host`,
      missing.map((key) => ({ path: ['settings', key], message: 'required again when the host changes' })),
    );
  }
}

/** How `POST /:id/test` shows a vendor's answer: never the body verbatim (a probe of internal services). */
export function answerSummary(status: number | undefined, headers: Headers | undefined, body: string | undefined) {
  const contentType = headers?.get('content-type') ?? null;
  const textual = contentType !== null && /^(application\/(problem\+)?json|text\/plain)\b/i.test(contentType);
  // A short, printable excerpt of JSON and plain-text answers, enough to read a vendor's error.
  const cleaned = (body ?? '').replace(/[^\x20-\x7e]+/g, ' ').trim();
  const excerpt = textual && cleaned ? (cleaned.length > 200 ? `${cleaned.slice(0, 200)}…` : cleaned) : null;
  return {
    status: status ?? null,
    headers: { contentType, contentLength: headers?.get('content-length') ?? null },
    excerpt,
  };
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
export async function loadDestination(env: Env, id: string): Promise<{ row: DestinationRow; def?: AnyDestination }> {
  const stored = await db(env.DB).select().from(destinations).where(eq(destinations.id, id)).get();
  if (!stored) throw notFound(`Destination ${id}`);
  const row = await openDestinationRow(env, stored); // secrets are sealed at rest
  return { row, def: destinationType(row.type) };
}
