// The console's session: the token in an HttpOnly cookie, CSRF on every change, audited sign-in
// and sign-out, and security headers on the console's responses.
import { describe, expect, it } from 'vitest';
import { CSRF_HEADER, SESSION_COOKIE } from '../src/admin/session';
import { ADMIN, env, SELF } from './kit/workers';

const URL0 = 'https://tessera.test';

async function signIn(token = 'test-admin-token') {
  const res = await SELF.fetch(`${URL0}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: URL0 },
    body: JSON.stringify({ token }),
  });
  return res;
}

const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0];

describe('console session', () => {
  it('sets an HttpOnly, Secure, SameSite=Strict cookie and answers scopes and a CSRF token', async () => {
    const res = await signIn();
    expect(res.status).toBe(201);
    const set = res.headers.get('set-cookie') ?? '';
    expect(set).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/']) expect(set).toContain(attr);
    const body = (await res.json()) as { scopes: string[]; csrfToken: string };
    expect(body.scopes).toEqual(['workspace:owner']);
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const again = await SELF.fetch(`${URL0}/api/session`, { headers: { cookie: cookieOf(res) } });
    expect(((await again.json()) as { csrfToken: string }).csrfToken).toBe(body.csrfToken);
  });

  it('reads with the cookie alone, but a change needs the CSRF header', async () => {
    const res = await signIn();
    const cookie = cookieOf(res);
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    expect((await SELF.fetch(`${URL0}/api/sources`, { headers: { cookie } })).status).toBe(200);
    const create = (headers: Record<string, string>) =>
      SELF.fetch(`${URL0}/api/sources`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: 'via console' }),
      });
    const none = await create({});
    expect(none.status).toBe(403);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('csrf_failed');
    expect((await create({ [CSRF_HEADER]: 'forged' })).status).toBe(403);
    expect((await create({ [CSRF_HEADER]: csrfToken })).status).toBe(201);
  });

  it('refuses a bad token, a cross-site sign-in, and audits sign-in and sign-out', async () => {
    expect((await signIn('nope')).status).toBe(401);
    const cross = await SELF.fetch(`${URL0}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ token: 'test-admin-token' }),
    });
    expect(cross.status).toBe(403);
    const res = await signIn();
    const cookie = cookieOf(res);
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    expect((await SELF.fetch(`${URL0}/api/session`, { method: 'DELETE', headers: { cookie } })).status).toBe(403);
    const out = await SELF.fetch(`${URL0}/api/session`, {
      method: 'DELETE',
      headers: { cookie, [CSRF_HEADER]: csrfToken },
    });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    const { results } = await env.DB.prepare(
      "SELECT action, changes FROM audit_log WHERE action LIKE '% /api/session' ORDER BY seq DESC LIMIT 2",
    ).all<{ action: string; changes: string }>();
    expect(results.map((r) => r.action)).toEqual(['DELETE /api/session', 'POST /api/session']);
    // The token itself is never in the log.
    expect(results[1].changes).not.toContain('test-admin-token');
  });

  it('serves the console with a strict CSP, no framing and no referrer', async () => {
    for (const path of ['/', '/console/app.js']) {
      const res = await SELF.fetch(`${URL0}${path}`);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      await res.body?.cancel();
    }
    const html = await (await SELF.fetch(`${URL0}/`)).text();
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('answers the live debugger without an upgrade with 426, and 404 for an unknown source', async () => {
    const sources = (await (await SELF.fetch(`${URL0}/api/sources`, { headers: ADMIN })).json()) as {
      data: { id: string }[];
    };
    const id = sources.data[0]?.id;
    const plain = await SELF.fetch(`${URL0}/api/sources/${id}/live`, { headers: ADMIN });
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: { code: 'upgrade_required' } });
    const unknown = await SELF.fetch(`${URL0}/api/sources/nope/live`, { headers: ADMIN });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'not_found', message: 'Source not found' } });
  });
});
