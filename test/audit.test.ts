import { describe, expect, it } from 'vitest';
import { ADMIN, env, makeSource, SELF } from './kit/workers';

type Entry = {
  seq: number;
  action: string;
  target: string;
  actor: { id: string; name: string };
  ip: string;
  userAgent: string;
  changes: {
    request?: unknown;
    before?: Record<string, unknown> | null;
    after?: Record<string, unknown> | null;
    response?: unknown;
  };
};

const req = (path: string, method = 'GET', body?: unknown, headers: Record<string, string> = ADMIN) =>
  SELF.fetch(`http://tessera.test${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function entries(query = ''): Promise<Entry[]> {
  const res = await req(`/api/audit?limit=1000${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Entry[] }).data;
}

describe('audit log', () => {
  it('records a configuration change with its state before and after, and who made it', async () => {
    const source = await makeSource('Before');
    const res = await req(
      `/api/sources/${source.id}`,
      'PATCH',
      { name: 'After' },
      { ...ADMIN, 'user-agent': 'audit-test/1', 'cf-connecting-ip': '198.51.100.7' },
    );
    expect(res.status).toBe(200);
    const e = (await entries(`&target=/api/sources/${source.id}`)).find((x) => x.action === 'PATCH /api/sources/:id');
    expect(e).toMatchObject({
      actor: { id: 'admin', name: 'ADMIN_TOKEN' },
      ip: '198.51.100.7',
      userAgent: 'audit-test/1',
      changes: { request: { name: 'After' }, before: { name: 'Before' }, after: { name: 'After' } },
    });
    const created = (await entries('&action=POST /api/sources')).find(
      (x) => (x.changes.response as { id: string }).id === source.id,
    );
    expect(created?.changes.before).toBeNull();
  });

  it('masks secrets in what it keeps', async () => {
    const secret = 'whsec_audit_very_secret_value_1234';
    const res = await req('/api/destinations', 'POST', {
      type: 'webhook',
      name: 'Audited',
      sourceIds: ['*'],
      settings: { url: 'https://hooks.example.com/in', sharedSecret: secret },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const token = await req('/api/tokens', 'POST', { name: 'audited', scopes: ['sources:read'] });
    const { token: tokenSecret } = (await token.json()) as { token: string };
    const { results } = await env.DB.prepare('SELECT changes FROM audit_log').all<{ changes: string }>();
    const all = results.map((r) => r.changes).join('\n');
    expect(all).toContain('hooks.example.com');
    expect(all).not.toContain(secret);
    expect(all).not.toContain(tokenSecret);
    // The token's creation is itself recorded, its secret masked.
    const minted = (await entries('&action=POST /api/tokens')).find(
      (e) => (e.changes.request as { name: string }).name === 'audited',
    );
    expect((minted?.changes.response as { token?: string } | undefined)?.token).toMatch(/^\*\*\*\*/);
  });

  it('records reads that need a privileged scope, and needs audit:read to be read', async () => {
    const t = (await (await req('/api/tokens', 'POST', { name: 'reader', scopes: ['audit:read'] })).json()) as {
      id: string;
      token: string;
    };
    const bearer = { authorization: `Bearer ${t.token}` };
    expect((await req('/api/audit', 'GET', undefined, bearer)).status).toBe(200);
    const read = (await entries('&action=GET /api/audit')).filter((e) => e.actor.id === t.id);
    expect(read).toHaveLength(1);
    const other = (await (await req('/api/tokens', 'POST', { name: 'no audit', scopes: ['sources:read'] })).json()) as {
      token: string;
    };
    expect((await req('/api/audit', 'GET', undefined, { authorization: `Bearer ${other.token}` })).status).toBe(403);
  });

  it('pages with a cursor, oldest first', async () => {
    const first = await (await req('/api/audit?limit=2')).json<{
      data: Entry[];
      cursor: { hasMore: boolean; next: string };
    }>();
    expect(first.data).toHaveLength(2);
    expect(first.cursor.hasMore).toBe(true);
    const second = await (await req(`/api/audit?limit=2&cursor=${first.cursor.next}`)).json<{ data: Entry[] }>();
    expect(second.data[0].seq).toBe(first.data[1].seq + 1);
    expect((await req('/api/audit?limit=0')).status).toBe(400);
    expect((await req('/api/audit?from=yesterday')).status).toBe(400);
  });

  it('is append-only, and verify names the entry that was altered or removed', async () => {
    const ok = await (await req('/api/audit/verify')).json<{ ok: boolean; entries: number }>();
    expect(ok.ok).toBe(true);
    expect(ok.entries).toBeGreaterThan(5);
    await expect(env.DB.prepare("UPDATE audit_log SET action = 'x' WHERE seq = 3").run()).rejects.toThrow(
      /append-only/,
    );
    await expect(env.DB.prepare('DELETE FROM audit_log WHERE seq = 3').run()).rejects.toThrow(/append-only/);

    // Someone with raw database access drops the guard and edits entry 3.
    await env.DB.prepare('DROP TRIGGER audit_log_no_update').run();
    await env.DB.prepare(`UPDATE audit_log SET changes = '{"request":{"name":"innocent"}}' WHERE seq = 3`).run();
    const broken = await (await req('/api/audit/verify')).json<{
      ok: boolean;
      brokenAt: { seq: number; reason: string };
    }>();
    expect(broken).toMatchObject({ ok: false, brokenAt: { seq: 3, reason: 'entry was altered' } });

    await env.DB.prepare('DROP TRIGGER audit_log_no_delete').run();
    await env.DB.prepare('DELETE FROM audit_log WHERE seq = 3').run();
    const gap = await (await req('/api/audit/verify')).json<{
      ok: boolean;
      brokenAt: { seq: number; reason: string };
    }>();
    expect(gap).toMatchObject({ ok: false, brokenAt: { seq: 4, reason: 'entry 3 is missing' } });
  });
});
