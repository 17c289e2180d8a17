import type { Context } from 'hono';
import { ApiError, unauthorized } from '../lib/errors';
import { clientIp, scopeGuard, tokenFrom } from '../lib/http/auth';
import { FailureLimiter } from '../lib/http/failure-limiter';
import { timingSafeEqual } from '../lib/ids';
import { grants, type Scope } from './scopes';
import { CSRF_HEADER, csrfFor, isChange, sessionToken } from './session';
import { findToken, touchToken } from './token-store';

// `src/profiles/api.ts` reads tokens through here; it may import `src/lib/http/auth.ts` directly.
export type { Scope } from './scopes';

/** Who is calling, as later middleware and the audit log see it. */
export interface Principal {
  kind: 'admin_token' | 'api_token';
  /** Token id (`admin` for the bootstrap secret). */
  id: string;
  name: string;
  scopes: Scope[];
}

export type AdminEnv = {
  Bindings: Cloudflare.Env;
  Variables: { principal: Principal; requiredScope: Scope };
};

/**
 * Resolves the caller's principal: the bootstrap `ADMIN_TOKEN` (compared in constant time), or
 * a scoped token looked up by the SHA-256 of its secret (so no secret is ever compared or stored).
 */
export async function authenticate(env: Cloudflare.Env, token: string | undefined): Promise<Principal | null> {
  if (!token) return null;
  const admin = env.ADMIN_TOKEN;
  if (admin && timingSafeEqual(token, admin)) {
    return { kind: 'admin_token', id: 'admin', name: 'ADMIN_TOKEN', scopes: ['workspace:owner'] };
  }
  const row = await findToken(env.DB, token);
  if (!row) return null;
  touchToken(env.DB, row);
  return { kind: 'api_token', id: row.id, name: row.name, scopes: row.scopes };
}

/** Failed attempts per client address, per isolate: guessing tokens gets a 429, not more tries. */
const failures = new FailureLimiter({ max: 20, windowMs: 60_000 });

/** The principal of a request, authenticated once per request; throws 401/429 when there is none. */
export async function principalOf(c: Context<AdminEnv>): Promise<Principal> {
  const known = c.get('principal');
  if (known) return known;
  const ip = clientIp(c);
  const wait = failures.blockedFor(ip);
  if (wait > 0) {
    c.header('retry-after', String(Math.ceil(wait / 1000)));
    throw new ApiError(429, 'rate_limited', 'Too many failed authentication attempts; retry later');
  }
  const bearer = tokenFrom(c.req.header('authorization'));
  // The console's session cookie counts only without an Authorization header (API clients win).
  const cookie = bearer ? undefined : sessionToken(c.req.header('cookie'));
  const principal = await authenticate(c.env, bearer ?? cookie);
  if (!principal) {
    failures.record(ip);
    throw unauthorized('A valid token is required: Authorization: Bearer <token>');
  }
  if (cookie && isChange(c.req.method) && !timingSafeEqual(c.req.header(CSRF_HEADER) ?? '', await csrfFor(cookie))) {
    throw new ApiError(403, 'csrf_failed', `A change made with the console's session needs its ${CSRF_HEADER} header`);
  }
  c.set('principal', principal);
  return principal;
}

/** Requires a token that carries `scope`. 401 without a valid token, 403 without the scope. */
export const requireScope = scopeGuard<Principal, Scope, AdminEnv>({
  principalOf,
  grants: (principal, scope) => grants(principal.scopes, scope),
});

/**
 * Checks a token offered to the console's sign-in (`POST /api/session`) under the same failure
 * limit as any other attempt, and makes it the request's principal (so the sign-in is audited).
 */
export async function signInWith(c: Context<AdminEnv>, token: string): Promise<Principal> {
  const ip = clientIp(c);
  const wait = failures.blockedFor(ip);
  if (wait > 0) {
    c.header('retry-after', String(Math.ceil(wait / 1000)));
    throw new ApiError(429, 'rate_limited', 'Too many failed authentication attempts; retry later');
  }
  const principal = await authenticate(c.env, token);
  if (!principal) {
    failures.record(ip);
    throw unauthorized('That token is not valid');
  }
  c.set('principal', principal);
  return principal;
}
