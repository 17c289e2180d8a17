import { eq, sql } from 'drizzle-orm';
import { db } from '../db/client';
import { type DeclaredSetting, type FunctionRow, functionInstances, functions, functionsMeta } from '../db/schema';
import { RefreshAheadCache } from '../lib/refresh-ahead';
import { openSecretValues } from '../privacy/secret-values';
import type { FunctionKind } from './instrument';
import type { LoadableFunction } from './sandbox';

/** An enabled instance with the code of the version it runs and its full settings (secrets included). */
export interface LiveInstance {
  id: string;
  fn: LoadableFunction;
  name: string;
  sourceId: string | null;
  destinationId: string | null;
  settings: Record<string, unknown>;
}

/** Every enabled instance, indexed the ways the hot paths look them up. */
export interface FunctionsConfig {
  revision: number;
  byId: Map<string, LiveInstance>;
  /** Insert functions on a source, in creation order. */
  insertsOfSource: Map<string, LiveInstance[]>;
  insertsOfDestination: Map<string, LiveInstance[]>;
}

/** Statement that marks a change, so isolates reload their cached instance list. */
export const bumpFunctions = (d1: D1Database) =>
  db(d1)
    .update(functionsMeta)
    .set({ revision: sql`${functionsMeta.revision} + 1` })
    .where(eq(functionsMeta.id, 1));

/**
 * How long an isolate trusts its instance list before it reads the revision again. Past half of
 * it a request reads it in the background and keeps the cached list (src/lib/refresh-ahead.ts).
 */
const RECHECK_MS = 1000;
const cache = new RefreshAheadCache<'', FunctionsConfig>({ ttlMs: RECHECK_MS });

/** Forgets this isolate's instance list (after a change made through it). */
export function clearFunctionsCache(): void {
  cache.clear();
}

/**
 * The instance list, read from D1 when the revision moved (checked at least every RECHECK_MS);
 * secrets opened. `keepAlive` (a request's `waitUntil`) lets a check run in the background.
 */
export async function functionsConfig(
  env: Cloudflare.Env,
  now = Date.now(),
  keepAlive?: (p: Promise<unknown>) => void,
): Promise<FunctionsConfig> {
  const revalidate = async (previous: FunctionsConfig | undefined) => {
    const meta = await env.DB.prepare('SELECT revision FROM functions_meta WHERE id = 1').first<{ revision: number }>();
    const revision = meta?.revision ?? 0;
    return previous && previous.revision === revision ? previous : loadConfig(env, revision);
  };
  return cache.get('', { load: revalidate, now, keepAlive });
}

interface JoinedRow {
  id: string;
  function_id: string;
  name: string;
  kind: FunctionKind;
  version: number;
  code: string;
  source_id: string | null;
  destination_id: string | null;
  settings: string;
  secret_settings: string;
}

async function loadConfig(env: Cloudflare.Env, revision: number): Promise<FunctionsConfig> {
  const { results } = await env.DB.prepare(
    `SELECT i.id, i.function_id, f.name, f.kind, v.version, v.code, i.source_id, i.destination_id, i.settings, i.secret_settings
       FROM function_instances i JOIN functions f ON f.id = i.function_id
       JOIN function_versions v ON v.function_id = f.id AND v.version = COALESCE(i.version, f.latest_version)
       WHERE i.enabled = 1 ORDER BY i.created_at, i.id`,
  ).all<JoinedRow>();
  const config: FunctionsConfig = {
    revision,
    byId: new Map(),
    insertsOfSource: new Map(),
    insertsOfDestination: new Map(),
  };
  for (const r of results) {
    const live: LiveInstance = {
      id: r.id,
      fn: { id: r.function_id, version: r.version, kind: r.kind, code: r.code },
      name: r.name,
      sourceId: r.source_id,
      destinationId: r.destination_id,
      // Secret values are sealed at rest (src/privacy/secrets.ts): opened once per revision here.
      settings: { ...JSON.parse(r.settings), ...(await openSecretValues(env, JSON.parse(r.secret_settings))) },
    };
    config.byId.set(r.id, live);
    if (r.kind !== 'insert') continue;
    const [map, key] = r.destination_id
      ? [config.insertsOfDestination, r.destination_id]
      : [config.insertsOfSource, r.source_id];
    if (!key) continue;
    map.set(key, [...(map.get(key) ?? []), live]);
  }
  return config;
}

/** A function row or undefined. */
export function findFunction(d1: D1Database, id: string): Promise<FunctionRow | undefined> {
  return db(d1).select().from(functions).where(eq(functions.id, id)).get();
}

/** Splits instance setting values by the declared settings: secrets are stored apart, never returned. */
export function splitSettings(declared: DeclaredSetting[], values: Record<string, unknown>) {
  const secret = new Set(declared.filter((d) => d.secret).map((d) => d.name));
  const plain: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) (secret.has(k) ? secrets : plain)[k] = v;
  return { plain, secrets };
}

/** Problems of setting values against the declared settings (missing required, wrong type, unknown). */
export function settingsProblems(declared: DeclaredSetting[], values: Record<string, unknown>): string[] {
  const out: string[] = [];
  const known = new Map(declared.map((d) => [d.name, d]));
  for (const d of declared) if (d.required && values[d.name] === undefined) out.push(`setting "${d.name}" is required`);
  for (const [k, v] of Object.entries(values)) {
    const d = known.get(k);
    if (!d) {
      out.push(`setting "${k}" is not declared by the function`);
      continue;
    }
    const ok =
      d.type === 'string' || d.type === 'text'
        ? typeof v === 'string'
        : d.type === 'number'
          ? typeof v === 'number'
          : d.type === 'boolean'
            ? typeof v === 'boolean'
            : d.type === 'array'
              ? Array.isArray(v)
              : typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!ok) out.push(`setting "${k}" must be of type ${d.type}`);
  }
  return out;
}

/** Instances of a function, for its API views. */
export function instancesOf(d1: D1Database, functionId: string) {
  return db(d1).select().from(functionInstances).where(eq(functionInstances.functionId, functionId)).all();
}
