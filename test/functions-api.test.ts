import { describe, expect, it } from 'vitest';
import { ADMIN, makeSource, SELF } from './kit/workers';

const api = async <T = Record<string, unknown>>(path: string, method = 'GET', body?: unknown) => {
  const res = await SELF.fetch(`http://tessera.test${path}`, {
    method,
    headers: ADMIN,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
};

const INSERT =
  'async function onTrack(event, settings) { console.log("v1"); event.properties.key = settings.apiKey; return event }';

describe('/api/functions', () => {
  it('creates, versions, lists and deletes a function', async () => {
    const created = await api<{ id: string; version: number }>('/api/functions', 'POST', {
      name: 'Enricher',
      kind: 'insert',
      code: INSERT,
      settings: [{ name: 'apiKey', type: 'string', required: true, secret: true }],
    });
    expect(created.status).toBe(201);
    expect(created.body.version).toBe(1);
    const id = created.body.id;
    const v2 = await api<{ version: number }>(`/api/functions/${id}`, 'PUT', { code: INSERT.replace('v1', 'v2') });
    expect(v2.body.version).toBe(2);
    const versions = await api<{ data: { version: number; code: string }[] }>(`/api/functions/${id}/versions`);
    expect(versions.body.data.map((v) => v.version)).toEqual([2, 1]);
    expect(versions.body.data[1].code).toContain('v1');
    const got = await api<{ code: string; version: number }>(`/api/functions/${id}`);
    expect(got.body).toMatchObject({ version: 2, kind: 'insert' });
    expect(got.body.code).toContain('v2');
    const list = await api<{ data: { id: string }[] }>('/api/functions');
    expect(list.body.data.some((f) => f.id === id)).toBe(true);
    expect((await api(`/api/functions/${id}`, 'DELETE')).status).toBe(200);
    expect((await api(`/api/functions/${id}`)).status).toBe(404);
  });

  it('refuses code that does not parse and settings it did not declare', async () => {
    const bad = await api<{ error: { message: string } }>('/api/functions', 'POST', {
      name: 'x',
      kind: 'insert',
      code: 'function onTrack( {',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/does not parse/);
    const fn = await api<{ id: string }>('/api/functions', 'POST', {
      name: 'y',
      kind: 'insert',
      code: INSERT,
      settings: [{ name: 'apiKey', required: true, secret: true }],
    });
    const source = await makeSource('fn api');
    const missing = await api<{ error: { message: string } }>(`/api/functions/${fn.body.id}/instances`, 'POST', {
      sourceId: source.id,
      settings: { other: 1 },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/"apiKey" is required.*"other" is not declared/);
  });

  it('never returns secret setting values', async () => {
    const fn = await api<{ id: string }>('/api/functions', 'POST', {
      name: 'Secretive',
      kind: 'insert',
      code: INSERT,
      settings: [
        { name: 'apiKey', type: 'string', required: true, secret: true },
        { name: 'region', type: 'string' },
      ],
    });
    const source = await makeSource('fn secrets');
    const inst = await api(`/api/functions/${fn.body.id}/instances`, 'POST', {
      sourceId: source.id,
      settings: { apiKey: 'sk_very_secret', region: 'eu' },
    });
    expect(inst.status).toBe(201);
    expect(inst.body).toMatchObject({ settings: { region: 'eu' }, secretSettings: ['apiKey'] });
    for (const path of [`/api/functions/${fn.body.id}`, `/api/functions/${fn.body.id}/invocations`]) {
      expect(JSON.stringify((await api(path)).body)).not.toContain('sk_very_secret');
    }
  });

  it('tests a function on a sample without side effects: output, logs, error, duration', async () => {
    const fn = await api<{ id: string }>('/api/functions', 'POST', { name: 't', kind: 'insert', code: INSERT });
    const run = await api<{ output: { event: { properties: unknown } }; logs: unknown[]; durationMs: number }>(
      `/api/functions/${fn.body.id}/test`,
      'POST',
      { event: { type: 'track', event: 'X', properties: {} }, settings: { apiKey: 'abc' } },
    );
    expect(run.status).toBe(200);
    expect(run.body.output.event.properties).toEqual({ key: 'abc' });
    expect(run.body.logs).toEqual([{ level: 'log', message: 'v1' }]);
    expect(run.body.durationMs).toBeGreaterThanOrEqual(0);
    const failing = await api<{ error: { name: string } }>(`/api/functions/${fn.body.id}/test`, 'POST', {
      code: 'async function onTrack() { while (true) {} }',
    });
    expect(failing.body.error.name).toBe('LimitExceeded');

    const src = await api<{ id: string }>('/api/functions', 'POST', {
      name: 's',
      kind: 'source',
      code: 'async function onRequest(req) { const b = await req.json(); Segment.track({ event: b.kind, userId: "u" }) }',
    });
    const emitted = await api<{ output: { events: unknown[] } }>(`/api/functions/${src.body.id}/test`, 'POST', {
      payload: { kind: 'invoice.paid' },
    });
    expect(emitted.body.output.events).toEqual([{ type: 'track', event: 'invoice.paid', userId: 'u' }]);
    // Nothing was recorded: a test run is no invocation of any instance.
    const inv = await api<{ data: unknown[] }>(`/api/functions/${src.body.id}/invocations`);
    expect(inv.body.data).toEqual([]);
  });

  it('answers an unknown source function URL 404 without running anything', async () => {
    const res = await SELF.fetch('http://tessera.test/v1/functions/fi_nope', { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'Source function not found' } });
  });
});
