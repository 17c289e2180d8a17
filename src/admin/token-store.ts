import { and, desc, eq, isNull } from 'drizzle-orm';
import { db } from '../db/client';
import { type ApiTokenRow, apiTokens } from '../db/schema';
import { randomToken, sha256Hex, ulid } from '../lib/ids';
import { isScope, type Scope } from './scopes';

/** Scoped tokens are `tsr_` + 192 random bits; the part after the prefix is what gets hashed. */
export const TOKEN_PREFIX = 'tsr';
/** `last_used_at` is written at most this often per token and isolate: no D1 write per request. */
const TOUCH_EVERY_MS = 60_000;
const touched = new Map<string, number>();

export interface StoredToken {
  id: string;
  name: string;
  scopes: Scope[];
}

/** The live (not revoked, not expired) token whose secret is `secret`, or null. */
export async function findToken(d1: D1Database, secret: string): Promise<(StoredToken & { row: ApiTokenRow }) | null> {
  if (!secret.startsWith(`${TOKEN_PREFIX}_`) || secret.length > 200) return null;
  const hash = await sha256Hex(secret);
  const row = await db(d1)
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.hash, hash), isNull(apiTokens.revokedAt)))
    .get();
  if (!row) return null;
  if (row.expiresAt && Date.parse(row.expiresAt) <= Date.now()) return null;
  return { id: row.id, name: row.name, scopes: row.scopes.filter(isScope), row };
}

/** Records that a token was used (throttled). Failures only cost the timestamp. */
export async function touchToken(d1: D1Database, token: { id: string }): Promise<void> {
  const now = Date.now();
  if ((touched.get(token.id) ?? 0) > now - TOUCH_EVERY_MS) return;
  touched.set(token.id, now);
  if (touched.size > 10_000) touched.clear();
  await db(d1)
    .update(apiTokens)
    .set({ lastUsedAt: new Date(now).toISOString() })
    .where(eq(apiTokens.id, token.id))
    .catch((err) => console.warn('token last-used update failed', err));
}

/** Creates a token; the secret is returned here once and never stored. */
export async function createToken(
  d1: D1Database,
  input: { name: string; scopes: Scope[]; expiresAt?: string; createdBy: string },
): Promise<{ row: ApiTokenRow; secret: string }> {
  const secret = randomToken(TOKEN_PREFIX, 24);
  const row: ApiTokenRow = {
    id: ulid(),
    name: input.name,
    prefix: secret.slice(0, TOKEN_PREFIX.length + 9),
    hash: await sha256Hex(secret),
    scopes: [...new Set(input.scopes)],
    createdBy: input.createdBy,
    createdAt: new Date().toISOString(),
    lastUsedAt: null,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
  };
  await db(d1).insert(apiTokens).values(row);
  return { row, secret };
}

export async function listTokens(d1: D1Database): Promise<ApiTokenRow[]> {
  return db(d1).select().from(apiTokens).orderBy(desc(apiTokens.createdAt)).all();
}

/** Revokes a token at once (every later request with it is a 401); false when unknown or already revoked. */
export async function revokeToken(d1: D1Database, id: string): Promise<ApiTokenRow | null> {
  const rows = await db(d1)
    .update(apiTokens)
    .set({ revokedAt: new Date().toISOString() })
    .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    .returning();
  return rows[0] ?? null;
}
