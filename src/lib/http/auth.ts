import type { Context, Env, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { forbidden } from '../errors';

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

/** The address a request came from, as Cloudflare reports it. */
export const clientIp = (c: Context) => c.req.header('cf-connecting-ip') ?? c.req.header('x-real-ip') ?? 'unknown';

/** The variables a scope guard sets: who is calling, and the scope the route asked for (the audit log reads both). */
export type ScopedEnv<P, S extends string> = Env & { Variables: { principal: P; requiredScope: S } };

/** How an app finds its caller and decides what the caller's scopes allow. */
export interface ScopeRules<E extends Env, P, S extends string> {
  /** The request's principal; throws (401/429…) when there is none. */
  principalOf(c: Context<E>): Promise<P>;
  /** True when `principal` may do what `scope` guards. */
  grants(principal: P, scope: S): boolean;
}

/**
 * `requireScope(scope)` over any principal type: the middleware authenticates (through
 * `principalOf`), answers 403 `forbidden` without the scope, and records the scope on the context.
 * The product's principals, token storage and scope list stay with the product (`src/admin/`).
 */
export function scopeGuard<P, S extends string, E extends ScopedEnv<P, S>>(
  rules: ScopeRules<E, P, S>,
): (scope: S) => MiddlewareHandler<E> {
  return (scope) =>
    createMiddleware<E>(async (c, next) => {
      const principal = await rules.principalOf(c);
      if (!rules.grants(principal, scope)) throw forbidden(`This token lacks the ${scope} scope`);
      (c as unknown as Context<ScopedEnv<P, S>>).set('requiredScope', scope);
      await next();
    });
}
