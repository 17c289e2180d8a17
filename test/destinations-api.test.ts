import { describe, expect, it } from 'vitest';
import { openDeep } from '../src/privacy/pii';
import { piiKeyring } from '../src/privacy/pii-guard';
import { ADMIN, env, makeSource, post, SELF } from './kit/workers';

const api = (path: string, init: RequestInit = {}) =>
  SELF.fetch(`http://tessera.test/api/destinations${path}`, {
    ...init,
    headers: { ...ADMIN, ...(init.headers ?? {}) },
  });
const send = (method: string, path: string, body: unknown) => api(path, { method, body: JSON.stringify(body) });
const secret = 'whsec_abcdefghijklmnop1234';

async function webhookDestination(over: Record<string, unknown> = {}) {
  const src = await makeSource();
  const res = await send('POST', '', {
    type: 'webhook',
    name: 'Hook',
    sourceIds: [src.id],
    settings: { url: 'https://hooks.example.com/in', sharedSecret: secret },
    ...over,
  });
  expect(res.status).toBe(201);
  return res.json<{ id: string; settings: Record<string, unknown>; sourceIds: string[] }>();
}

describe('/api/destinations', () => {
  it('lists the catalog with each type settings schema', async () => {
    const res = await api('/catalog');
    const { data } = await res.json<{
      data: { type: string; settings: { properties: Record<string, { description?: string }> } }[];
    }>();
    expect(data.map((d) => d.type)).toEqual([
      'webhook',
      'segment',
      'mixpanel',
      'amplitude',
      'ga4',
      'posthog',
      'customerio',
      'braze',
      'slack',
      'function',
    ]);
    expect(data[0].settings.properties.url.description).toMatch(/Endpoint/);
  });

  it('creates, lists, reads, updates and deletes, never returning secrets in full', async () => {
    const created = await webhookDestination();
    expect(created.settings).toMatchObject({
      url: 'https://hooks.example.com/in',
      sharedSecret: '****1234',
      method: 'POST',
    });
    const list = await (await api('')).json<{ data: { id: string }[] }>();
    expect(list.data.map((d) => d.id)).toContain(created.id);
    const read = await (await api(`/${created.id}`)).json<{ settings: Record<string, unknown> }>();
    expect(JSON.stringify(read)).not.toContain(secret);

    // PATCH merges settings; the masked secret sent back keeps the stored one.
    const patched = await send('PATCH', `/${created.id}`, {
      name: 'Renamed',
      settings: { sharedSecret: '****1234', method: 'PUT' },
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({
      name: 'Renamed',
      settings: { method: 'PUT', url: 'https://hooks.example.com/in' },
    });
    const stored = await env.DB.prepare('SELECT settings FROM destinations WHERE id = ?')
      .bind(created.id)
      .first<{ settings: string }>();
    // Sealed at rest (src/privacy/secrets.ts); it opens to the secret that was sent.
    const sealed = JSON.parse(stored?.settings ?? '{}').sharedSecret;
    expect(sealed).toMatch(/^pii1\./);
    expect(await openDeep(await piiKeyring(env), sealed)).toBe(secret);

    const put = await send('PUT', `/${created.id}`, { type: 'slack', name: 'x', settings: {} });
    expect(put.status).toBe(400);
    expect((await api(`/${created.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/${created.id}`)).status).toBe(404);
  });

  it('answers 400 with a clear message for bad types, settings, URLs, filters and sources', async () => {
    const src = await makeSource();
    const cases: [unknown, RegExp][] = [
      [{ type: 'nope', name: 'x' }, /Unknown destination type "nope"; one of: webhook/],
      [{ type: 'mixpanel', name: 'x', settings: {} }, /Invalid Mixpanel settings: projectToken/],
      [
        { type: 'webhook', name: 'x', settings: { url: 'http://169.254.169.254/latest' } },
        /refused: it points to the link-local range/,
      ],
      [{ type: 'slack', name: 'x', settings: { webhookUrl: 'http://10.1.2.3/hook' } }, /private range/],
      [
        {
          type: 'webhook',
          name: 'x',
          settings: { url: 'https://a.example' },
          filters: [{ if: 'event = = "x"', actions: [{ type: 'drop' }] }],
        },
        /Invalid filter: filters\.0\.if: .*position/,
      ],
      [
        { type: 'webhook', name: 'x', sourceIds: [src.id, 'src_missing'], settings: { url: 'https://a.example' } },
        /Unknown source ids: src_missing/,
      ],
    ];
    for (const [body, message] of cases) {
      const res = await send('POST', '', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(message);
    }
  });

  it('asks for the secrets again when the endpoint host changes', async () => {
    const created = await webhookDestination();
    const newSecret = 'whsec_zyxwvutsrqponm9876';
    // Only the URL: the stored secret must not follow it to another host.
    const moved = await send('PATCH', `/${created.id}`, { settings: { url: 'https://elsewhere.example.net/in' } });
    expect(moved.status).toBe(400);
    const err = (await moved.json<{ error: { message: string } }>()).error.message;
    expect(err).toMatch(/host changes \(hooks\.example\.com → elsewhere\.example\.net\)/);
    expect(err).toMatch(/sharedSecret/);
    // The masked value sent back does not count as giving it again.
    const masked = await send('PATCH', `/${created.id}`, {
      settings: { url: 'https://elsewhere.example.net/in', sharedSecret: '****1234' },
    });
    expect(masked.status).toBe(400);
    const put = await send('PUT', `/${created.id}`, {
      type: 'webhook',
      name: 'Hook',
      settings: { url: 'https://elsewhere.example.net/in', sharedSecret: '****1234' },
    });
    expect(put.status).toBe(400);
    const stored = async () =>
      (await openDeep(
        await piiKeyring(env),
        JSON.parse(
          (
            await env.DB.prepare('SELECT settings FROM destinations WHERE id = ?')
              .bind(created.id)
              .first<{ settings: string }>()
          )?.settings ?? '{}',
        ),
      )) as { url: string; sharedSecret?: string };
    expect(await stored()).toMatchObject({ url: 'https://hooks.example.com/in', sharedSecret: secret });
    // Same host, another path: the secret stays.
    expect((await send('PATCH', `/${created.id}`, { settings: { url: 'https://hooks.example.com/v2' } })).status).toBe(
      200,
    );
    expect(await stored()).toMatchObject({ url: 'https://hooks.example.com/v2', sharedSecret: secret });
    // Given again in the same request: accepted.
    const ok = await send('PATCH', `/${created.id}`, {
      settings: { url: 'https://elsewhere.example.net/in', sharedSecret: newSecret },
    });
    expect(ok.status).toBe(200);
    expect(await stored()).toMatchObject({ url: 'https://elsewhere.example.net/in', sharedSecret: newSecret });
  });

  it('allows loopback URLs only locally (these tests run with TESSERA_ENV=local)', async () => {
    expect(env.TESSERA_ENV as string).toBe('local');
    const res = await send('POST', '', {
      type: 'webhook',
      name: 'local',
      settings: { url: 'http://127.0.0.1:9/hook' },
    });
    expect(res.status).toBe(201);
  });

  it('requires a token with the destinations scopes', async () => {
    const anonymous = await SELF.fetch('http://tessera.test/api/destinations');
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringMatching(/token/) },
    });
    const before = (await (await api('')).json<{ data: unknown[] }>()).data.length;
    const res = await post('/api/destinations', { type: 'webhook' }, { authorization: 'Bearer wrong' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringMatching(/token/) },
    });
    // Refused, not half-done: nothing was created.
    expect((await (await api('')).json<{ data: unknown[] }>()).data).toHaveLength(before);
  });

  it("test sends a sample event and returns the vendor's answer (here: nobody listens)", async () => {
    const created = await webhookDestination({ settings: { url: 'http://127.0.0.1:9/hook' } });
    const res = await api(`/${created.id}/test`, { method: 'POST' });
    expect(res.status).toBe(200);
    const body = await res.json<{ ok: boolean; retryable: boolean; error: string; request: { url: string } }>();
    expect(body).toMatchObject({ ok: false, retryable: true, request: { url: 'http://127.0.0.1:9/hook' } });
    expect(body.error).toMatch(/Network error|No answer/);
    const unsupported = await webhookDestination({ type: 'ga4', settings: { measurementId: 'G-X1', apiSecret: 's' } });
    const alias = await send('POST', `/${unsupported.id}/test`, {
      event: { type: 'alias', userId: 'u', previousId: 'a' },
    });
    expect(alias.status).toBe(400);
    expect((await alias.json<{ error: { message: string } }>()).error.message).toMatch(/does not take alias calls/);
  });

  it('replay needs failures to name and an enabled destination; health starts empty', async () => {
    const created = await webhookDestination();
    const none = await send('POST', `/${created.id}/replay`, {});
    expect(none.status).toBe(400);
    const unknown = await send('POST', `/${created.id}/replay`, { messageIds: ['nope'] });
    expect(unknown.status).toBe(400);
    await send('PATCH', `/${created.id}`, { enabled: false });
    expect((await send('POST', `/${created.id}/replay`, { all: true })).status).toBe(409);
    const health = await (await api(`/${created.id}/health?hours=2&interval=30`)).json<{
      totals: object;
      series: unknown[];
      retrying: number;
    }>();
    expect(health.totals).toMatchObject({ delivered: 0, failed: 0, p95Ms: null });
    expect(health.series.length).toBeGreaterThanOrEqual(4);
    expect(health.retrying).toBe(0);
  });
});
