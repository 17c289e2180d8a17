import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import type { AdminEnv } from '../admin/auth';
import { PRIVILEGED } from '../admin/scopes';
import { destinationType } from '../destinations/registry';
import { clientIp } from '../lib/http/auth';
import { declaredSecrets, maskPiiLiterals, maskSecrets } from './audit';
import { appendAudit } from './audit-store';
import { DEFAULT_PII_KEYS, loadPiiKeys } from './pii-settings';

const DEFAULT_KEYS: ReadonlySet<string> = new Set(DEFAULT_PII_KEYS);

type SelfFetch = (req: Request, env: Cloudflare.Env, ctx: Context['executionCtx']) => Response | Promise<Response>;

/** How much of a before/after state or request body an entry keeps. */
const MAX_STATE_CHARS = 16_000;
/** Marks the trail's own reads of a resource, so they are not audited themselves. Per isolate. */
const INTERNAL_HEADER = 'x-tessera-audit-read';
// Made on first use: Workers refuse random values at global scope.
let nonceValue: string | undefined;
const nonce = () => {
  nonceValue ??= crypto.randomUUID();
  return nonceValue;
};

/** The resource a change acts on: the path itself, or for `POST /api/x/:id/action` its parent. */
export function resourceOf(method: string, path: string): string | null {
  const parts = path.split('/').filter(Boolean);
  if (method === 'POST') return parts.length >= 4 ? `/${parts.slice(0, -1).join('/')}` : null;
  return path;
}

/** A body's JSON (or its text when it is not JSON). */
function parsed(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function capped(value: unknown, declared: ReadonlySet<string>, piiKeys: ReadonlySet<string>): unknown {
  if (value === null) return null;
  const masked = maskPiiLiterals(maskSecrets(value, declared), piiKeys);
  const json = JSON.stringify(masked) ?? '';
  return json.length > MAX_STATE_CHARS ? { truncated: true, chars: json.length } : masked;
}

/** Settings a destination type declares secret, for masking by schema as well as by name. */
const secretsOfType = (type: string) => destinationType(type)?.secrets;

/**
 * Writes every successful configuration change under `/api` to the audit log with the resource's
 * state before and after (read through the same API with the caller's token, secrets masked), and
 * every read that needed a privileged scope. Routes need not know: the trail wraps them all.
 */
export const auditTrail = (fetchSelf: SelfFetch) =>
  createMiddleware<AdminEnv>(async (c, next) => {
    if (c.req.header(INTERNAL_HEADER) === nonce()) return next();
    const method = c.req.method;
    const mutating = !['GET', 'HEAD', 'OPTIONS'].includes(method);
    const resource = mutating ? resourceOf(method, c.req.path) : null;
    const readState = async (path: string) => {
      const headers = new Headers({ [INTERNAL_HEADER]: nonce() });
      const auth = c.req.header('authorization');
      if (auth) headers.set('authorization', auth);
      // The console's session cookie authenticates the read too (a GET needs no CSRF header).
      const cookie = c.req.header('cookie');
      if (cookie && !auth) headers.set('cookie', cookie);
      const res = await fetchSelf(new Request(new URL(path, c.req.url), { headers }), c.env, c.executionCtx);
      return res.ok ? parsed(await res.text()) : null;
    };
    const before = resource ? await readState(resource).catch(() => null) : null;
    const request = mutating ? parsed(await c.req.raw.clone().text()) : undefined;

    await next();

    const principal = c.get('principal');
    const scope = c.get('requiredScope');
    if (!principal || c.res.status >= 400) return;
    if (!mutating && !(scope && PRIVILEGED.has(scope) && scope !== 'workspace:owner')) return;
    const changes: Record<string, unknown> = {};
    if (mutating) {
      const after = resource && method !== 'DELETE' ? await readState(resource).catch(() => null) : null;
      const response = parsed(await c.res.clone().text());
      // Secret by schema: what the destination type or the function's settings declare secret.
      const declared = declaredSecrets([request, before, after, response], secretsOfType);
      const piiKeys = await loadPiiKeys(c.env.DB).catch(() => DEFAULT_KEYS);
      changes.request = capped(request ?? null, declared, piiKeys);
      changes.before = capped(before, declared, piiKeys);
      changes.after = capped(after, declared, piiKeys);
      changes.response = capped(response, declared, piiKeys);
    }
    await appendAudit(c.env.DB, {
      actorId: principal.id,
      actorName: principal.name,
      action: `${method} ${routePathOf(c)}`,
      target: c.req.path,
      ip: clientIp(c),
      userAgent: c.req.header('user-agent')?.slice(0, 500) ?? null,
      changes: JSON.stringify(changes),
    }).catch((err) => console.error('audit append failed', err));
  });

/** The route pattern that answered, e.g. `/api/sources/:id` (the last matched handler's). */
function routePathOf(c: Context): string {
  try {
    return routePath(c, -1);
  } catch {
    return c.req.path;
  }
}
