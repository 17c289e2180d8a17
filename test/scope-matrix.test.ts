// Walks every mounted admin and Profile API route and proves its guard: a token holding every
// scope but the route's own gets 403 `forbidden`, a token with only that scope gets past it.
import { describe, expect, it } from 'vitest';
import { SCOPES } from '../src/admin/scopes';
import { app } from '../src/app';
import { SELF } from './kit/workers';

/** Routes that are public on purpose. */
const PUBLIC = new Set<string>([
  'GET /api/openapi.json',
  // The console's session routes authenticate themselves (any valid token; sign-in takes it in the body).
  'POST /api/session',
  'GET /api/session',
  'DELETE /api/session',
]);

const routes = [
  ...new Map(
    app.routes
      .filter((r) => r.method !== 'ALL' && (r.path.startsWith('/api/') || r.path.startsWith('/v1/spaces/')))
      .map((r) => [`${r.method} ${r.path}`, r]),
  ).values(),
].filter((r) => !PUBLIC.has(`${r.method} ${r.path}`));

const tokens = new Map<string, string>();
async function tokenWith(scopes: string[]): Promise<string> {
  const key = scopes.join(',');
  const known = tokens.get(key);
  if (known) return known;
  const res = await SELF.fetch('http://tessera.test/api/tokens', {
    method: 'POST',
    headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
    body: JSON.stringify({ name: key.slice(0, 200), scopes }),
  });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  tokens.set(key, token);
  return token;
}

const send = (method: string, path: string, token: string) =>
  SELF.fetch(`http://tessera.test${path.replace(/:[A-Za-z_]+/g, 'x').replace(/\*/g, 'x')}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: method === 'GET' || method === 'HEAD' ? undefined : '{}',
  });

describe('every route declares its scope', () => {
  it('finds the admin and Profile API routes', () => {
    expect(routes.length).toBeGreaterThan(30);
  });

  it.each(routes.map((r) => [`${r.method} ${r.path}`, r.method, r.path] as const))('%s', async (_, method, path) => {
    // A token with one unrelated scope gets a 403 that names the scope the route needs. (Two
    // probes, in case the first probe's scope is the route's own.)
    let probe = await send(method, path, await tokenWith(['functions:read']));
    if (probe.status !== 403) probe = await send(method, path, await tokenWith(['governance:read']));
    expect(probe.status, `${method} ${path} answered ${probe.status} to a token without its scope`).toBe(403);
    const body = (await probe.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('forbidden');
    const needed = /lacks the (\S+) scope/.exec(body.error.message)?.[1] ?? '';
    expect(SCOPES).toContain(needed);
    // Every other scope together (owner aside) still does not open it.
    const others = SCOPES.filter((s) => s !== needed && s !== 'workspace:owner');
    expect((await send(method, path, await tokenWith(others))).status).toBe(403);
    // Its own scope does.
    const allowed = await send(method, path, await tokenWith([needed]));
    expect([401, 403]).not.toContain(allowed.status);
    expect(allowed.status, `${method} ${path} with ${needed}`).toBeLessThan(500);
  });
});
