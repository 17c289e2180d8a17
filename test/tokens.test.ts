import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/lib/ids';
import { env, SELF } from './kit/workers';

const call = (
  path: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
) =>
  SELF.fetch(`http://tessera.test${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'content-type': 'application/json',
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

async function mint(scopes: string[], extra: Record<string, unknown> = {}) {
  const res = await call('/api/tokens', {
    method: 'POST',
    token: 'test-admin-token',
    body: { name: 't', scopes, ...extra },
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; token: string; prefix: string; scopes: string[] };
}

describe('scoped API tokens', () => {
  it('lists every scope, marking those the caller may grant', async () => {
    const all = await (await call('/api/tokens/scopes', { token: 'test-admin-token' })).json<{
      data: { scope: string; grantable: boolean }[];
    }>();
    expect(all.data.map((s) => s.scope)).toEqual(
      expect.arrayContaining(['sources:read', 'audit:read', 'tokens:write']),
    );
    expect(all.data.every((s) => s.grantable)).toBe(true);
    const minter = await mint(['tokens:write', 'sources:read']);
    const some = await (await call('/api/tokens/scopes', { token: minter.token })).json<{
      data: { scope: string; grantable: boolean }[];
    }>();
    expect(some.data.filter((s) => s.grantable).map((s) => s.scope)).toEqual(['sources:read', 'tokens:write']);
    const reader = await mint(['sources:read']);
    expect((await call('/api/tokens/scopes', { token: reader.token })).status).toBe(403);
  });

  it('shows the secret once, stores only its SHA-256, and lists tokens without secrets', async () => {
    const t = await mint(['sources:read']);
    expect(t.token).toMatch(/^tsr_[0-9a-f]{48}$/); // 192 random bits
    expect(t.token.startsWith(t.prefix)).toBe(true);
    const row = await env.DB.prepare('SELECT * FROM api_tokens WHERE id = ?')
      .bind(t.id)
      .first<Record<string, string>>();
    expect(row?.hash).toBe(await sha256Hex(t.token));
    expect(Object.values(row ?? {})).not.toContain(t.token);
    const list = await (await call('/api/tokens', { token: 'test-admin-token' })).json<{
      data: Record<string, unknown>[];
    }>();
    const shown = list.data.find((x) => x.id === t.id);
    expect(shown).toMatchObject({ id: t.id, name: 't', scopes: ['sources:read'], prefix: t.prefix });
    expect(JSON.stringify(list)).not.toContain(t.token);
    expect(JSON.stringify(list)).not.toContain(row?.hash);
  });

  it('lets a token do what its scopes allow and nothing else', async () => {
    const t = await mint(['sources:read']);
    expect((await call('/api/sources', { token: t.token })).status).toBe(200);
    const denied = await call('/api/sources', { method: 'POST', token: t.token, body: { name: 'x' } });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({
      error: { code: 'forbidden', message: 'This token lacks the sources:write scope' },
    });
    expect((await call('/api/destinations', { token: t.token })).status).toBe(403);
    // Basic with the token as username works too (Segment's Profile API clients send that).
    const basic = await SELF.fetch('http://tessera.test/api/sources', {
      headers: { authorization: `Basic ${btoa(`${t.token}:`)}` },
    });
    expect(basic.status).toBe(200);
  });

  it('records when a token was last used', async () => {
    const t = await mint(['sources:read']);
    const before = await env.DB.prepare('SELECT last_used_at FROM api_tokens WHERE id = ?')
      .bind(t.id)
      .first<string>('last_used_at');
    expect(before).toBeNull();
    await call('/api/sources', { token: t.token });
    const after = await env.DB.prepare('SELECT last_used_at FROM api_tokens WHERE id = ?')
      .bind(t.id)
      .first<string>('last_used_at');
    expect(Date.parse(after ?? '')).toBeGreaterThan(Date.now() - 10_000);
  });

  it('cannot hand out scopes it does not hold', async () => {
    const t = await mint(['tokens:write', 'sources:read']);
    const res = await call('/api/tokens', {
      method: 'POST',
      token: t.token,
      body: { name: 'x', scopes: ['workspace:owner'] },
    });
    expect(res.status).toBe(403);
    expect(
      (await call('/api/tokens', { method: 'POST', token: t.token, body: { name: 'x', scopes: ['sources:read'] } }))
        .status,
    ).toBe(201);
  });

  it('rejects unknown scopes, past expiry dates and malformed bodies with a 400', async () => {
    for (const body of [
      { name: 'x', scopes: ['root'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['sources:read'], expiresAt: '2001-01-01T00:00:00Z' },
      { scopes: ['sources:read'] },
    ]) {
      const res = await call('/api/tokens', { method: 'POST', token: 'test-admin-token', body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
  });

  it('stops working at once when revoked, and when expired', async () => {
    const t = await mint(['sources:read']);
    expect((await call('/api/sources', { token: t.token })).status).toBe(200);
    expect((await call(`/api/tokens/${t.id}`, { method: 'DELETE', token: 'test-admin-token' })).status).toBe(200);
    const revoked = await call('/api/sources', { token: t.token });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const again = await call(`/api/tokens/${t.id}`, { method: 'DELETE', token: 'test-admin-token' });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: { code: 'not_found' } });

    const e = await mint(['sources:read'], { expiresAt: new Date(Date.now() + 60_000).toISOString() });
    expect((await call('/api/sources', { token: e.token })).status).toBe(200);
    await env.DB.prepare('UPDATE api_tokens SET expires_at = ? WHERE id = ?')
      .bind(new Date(Date.now() - 1000).toISOString(), e.id)
      .run();
    const expired = await call('/api/sources', { token: e.token });
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('answers 429 with Retry-After after repeated failed attempts from one address', async () => {
    const headers = { 'cf-connecting-ip': '203.0.113.77' };
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++)
      statuses.push((await call('/api/sources', { token: `tsr_guess${i}`, headers })).status);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    const blocked = await call('/api/sources', { token: 'test-admin-token', headers });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    // Another address is not affected.
    expect(
      (await call('/api/sources', { token: 'test-admin-token', headers: { 'cf-connecting-ip': '203.0.113.78' } }))
        .status,
    ).toBe(200);
  });
});
