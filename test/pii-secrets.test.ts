// Secrets beyond destinations: a function instance's secret settings are sealed at rest like
// destination secrets (PII_KEY is set in every runtime test), opened only where the function runs,
// and the audit log masks every field a schema declares secret, whatever its name.
import { describe, expect, it } from 'vitest';
import { ADMIN, env, makeSource, SELF } from './kit/workers';

const api = async <T = Record<string, unknown>>(path: string, method = 'GET', body?: unknown) => {
  const res = await SELF.fetch(`http://tessera.test${path}`, {
    method,
    headers: ADMIN,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
};

const auditText = async () =>
  (await env.DB.prepare('SELECT changes FROM audit_log').all<{ changes: string }>()).results
    .map((r) => r.changes)
    .join('\n');

// A source function that answers 200 only when it got the secret as it was set (the code holds the
// value reversed, so the value itself appears nowhere but in the instance's settings).
const CODE = `async function onRequest(request, settings) {
  const pin = String(settings.shopPin).split("").reverse().join("");
  if (pin !== "508d6b4e12c9a3f7-nip" || settings.region !== "eu") throw new ValidationError("wrong settings");
  Segment.track({ event: "Checked", userId: "fn-secret-user" });
}`;

describe('function secret settings', () => {
  it('are sealed in D1, never returned, and reach the function in clear', async () => {
    const pin = 'pin-7f3a9c21e4b6d805';
    const fn = await api<{ id: string }>('/api/functions', 'POST', {
      name: 'Sealed settings',
      kind: 'source',
      code: CODE,
      // "shopPin" looks like no secret by its name: only its declaration says so.
      settings: [
        { name: 'shopPin', type: 'string', required: true, secret: true },
        { name: 'region', type: 'string' },
      ],
    });
    expect(fn.status).toBe(201);
    const source = await makeSource('fn sealed');
    const inst = await api<{ id: string; url: string; secretSettings: string[] }>(
      `/api/functions/${fn.body.id}/instances`,
      'POST',
      { sourceId: source.id, settings: { shopPin: pin, region: 'eu' } },
    );
    expect(inst.status).toBe(201);
    expect(inst.body.secretSettings).toEqual(['shopPin']);

    const row = await env.DB.prepare('SELECT settings, secret_settings FROM function_instances WHERE id = ?')
      .bind(inst.body.id)
      .first<{ settings: string; secret_settings: string }>();
    expect(JSON.parse(row?.settings ?? '{}')).toEqual({ region: 'eu' });
    expect(row?.secret_settings).not.toContain(pin);
    expect(JSON.parse(row?.secret_settings ?? '{}').shopPin).toMatch(/^pii1\./);

    for (const path of [`/api/functions/${fn.body.id}`, `/api/functions/${fn.body.id}/versions`, '/api/functions']) {
      expect(JSON.stringify((await api(path)).body)).not.toContain(pin);
    }
    // The function itself gets the value in clear.
    const run = await SELF.fetch(`http://tessera.test/v1/functions/${inst.body.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(run.status, await run.clone().text()).toBe(200);

    // The audit log masks it by the function's declaration (the name alone would not).
    const test = await api(`/api/functions/${fn.body.id}/test`, 'POST', {
      payload: {},
      settings: { shopPin: pin, region: 'eu' },
    });
    expect(test.status).toBe(200);
    const audit = await auditText();
    expect(audit).toContain('"shopPin":"****');
    expect(audit).toContain('"region":"eu"');
    expect(audit).not.toContain(pin);
  });
});

describe('audit masking by schema', () => {
  it("masks a destination's declared secrets under any key, on create and on update", async () => {
    const headerValue = 'hv-81d2f0a7c3e94b65';
    const created = await api<{ id: string }>('/api/destinations', 'POST', {
      type: 'webhook',
      name: 'Header secrets',
      sourceIds: ['*'],
      // `headers` is a declared secret of the webhook type; "X-Shop" looks like nothing secret.
      settings: { url: 'https://hooks.example.com/h', headers: { 'X-Shop': headerValue } },
    });
    expect(created.status).toBe(201);
    const renamed = await api(`/api/destinations/${created.body.id}`, 'PATCH', {
      settings: { url: 'https://hooks.example.com/h', headers: { 'X-Shop': `${headerValue}-2` } },
    });
    expect(renamed.status).toBeLessThan(300);
    const audit = await auditText();
    expect(audit).toContain('hooks.example.com/h');
    expect(audit).not.toContain(headerValue);
  });
});
