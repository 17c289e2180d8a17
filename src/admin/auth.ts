import { createMiddleware } from 'hono/factory';
import { forbidden, unauthorized } from '../lib/errors';
import { timingSafeEqual } from '../lib/ids';

/** Scopes a token may carry. The bootstrap `ADMIN_TOKEN` has `*` (all of them). */
export type Scope =
  | 'sources:read'
  | 'sources:write'
  | 'destinations:read'
  | 'destinations:write'
  | 'profiles:read'
  | 'audiences:read'
  | 'audiences:write'
  | 'pii:read'
  | 'admin'
  | '*';

/** Who is calling the admin API, as later middleware and the audit log see it. */
export interface Principal {
  kind: 'admin_token';
  scopes: Scope[];
}

export type AdminEnv = { Bindings: Cloudflare.Env; Variables: { principal: Principal } };

/** Extracts a token from `Authorization: Bearer …` or Basic (token as the username, Segment-style). */
export function tokenFrom(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!value) return undefined;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() === 'basic') {
    try {
      return atob(value).split(':')[0] || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Resolves the caller's principal from its token; designed so scoped D1 tokens plug in here. */
export async function authenticate(env: Cloudflare.Env, token: string | undefined): Promise<Principal | null> {
  if (!token) return null;
  const admin = env.ADMIN_TOKEN;
  if (admin && timingSafeEqual(token, admin)) return { kind: 'admin_token', scopes: ['*'] };
  return null;
}

/** Requires a token that carries `scope`. 401 without a valid token, 403 without the scope. */
export const requireScope = (scope: Scope) =>
  createMiddleware<AdminEnv>(async (c, next) => {
    const principal = c.get('principal') ?? (await authenticate(c.env, tokenFrom(c.req.header('authorization'))));
    if (!principal) throw unauthorized('A valid token is required: Authorization: Bearer <token>');
    if (!principal.scopes.includes('*') && !principal.scopes.includes(scope)) {
      throw forbidden(`This token lacks the ${scope} scope`);
    }
    c.set('principal', principal);
    await next();
  });
