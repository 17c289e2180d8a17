import { describe, expect, it } from 'vitest';
import type { RejectedKeyView } from '../src/ingest/rejected-keys';
import { ADMIN, basic, eventually, makeSource, post, SELF } from './kit/workers';

const rotate = async (id: string, body?: unknown) => {
  const res = await SELF.fetch(`http://x/api/sources/${id}/rotate-key`, {
    method: 'POST',
    headers: ADMIN,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json<Record<string, unknown>>() };
};
const debuggerOf = async (id: string) =>
  (
    await (
      await SELF.fetch(`http://x/api/sources/${id}/events`, { headers: ADMIN })
    ).json<{
      data: { writeKey?: string; event: { event?: string } }[];
    }>()
  ).data;

type RejectedKey = RejectedKeyView;
const rejectedKeys = async () => {
  const res = await SELF.fetch('http://x/api/ingest/rejected-keys', { headers: ADMIN });
  expect(res.status).toBe(200);
  return (await res.json<{ data: RejectedKey[] }>()).data;
};

describe('/api/sources', () => {
  it('creates, lists and reads a source', async () => {
    const s = await makeSource('Website');
    expect(s.writeKey).toMatch(/^wk_/);
    const list = await (await SELF.fetch('http://x/api/sources', { headers: ADMIN })).json<{
      data: { id: string }[];
    }>();
    expect(list.data.map((d) => d.id)).toContain(s.id);
    const one = await SELF.fetch(`http://x/api/sources/${s.id}`, { headers: ADMIN });
    expect(await one.json()).toMatchObject({
      id: s.id,
      name: 'Website',
      enabled: true,
      previousWriteKey: null,
      personalizeSecret: null,
    });
  });

  it('rejects requests without a valid token', async () => {
    const none = await SELF.fetch('http://x/api/sources');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const wrong = await SELF.fetch('http://x/api/sources', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await SELF.fetch('http://x/api/ingest/rejected-keys')).status).toBe(401);
  });

  it('validates input', async () => {
    const res = await post('/api/sources', { name: '' }, ADMIN);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request' } });
    const bad = await post('/api/sources', '{nope', ADMIN);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_json' } });
    const missing = await SELF.fetch('http://x/api/sources/nope', { headers: ADMIN });
    expect(missing.status).toBe(404);
    const s = await makeSource();
    for (const graceSeconds of [-1, 1.5, 30 * 86_400 + 1, 'soon']) {
      const r = await rotate(s.id, { graceSeconds });
      expect({ graceSeconds, status: r.status }).toEqual({ graceSeconds, status: 400 });
    }
    expect((await SELF.fetch('http://x/api/ingest/rejected-keys?days=0', { headers: ADMIN })).status).toBe(400);
  });
});

describe('write key rotation', () => {
  it('keeps the previous key working for the grace period and marks its events in the debugger', async () => {
    const s = await makeSource();
    const before = Date.now();
    const r = await rotate(s.id); // no body: the default grace of 24 h
    expect(r.status).toBe(200);
    const rotated = r.body as { writeKey: string; previousWriteKey: { key: string; expiresAt: string } };
    expect(rotated.writeKey).not.toBe(s.writeKey);
    expect(rotated.previousWriteKey.key).toBe(s.writeKey);
    const expires = Date.parse(rotated.previousWriteKey.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 86_400_000);
    expect(expires).toBeLessThan(Date.now() + 86_400_000 + 1000);
    // The source view shows the grace expiry too.
    const view = await (await SELF.fetch(`http://x/api/sources/${s.id}`, { headers: ADMIN })).json();
    expect(view).toMatchObject({
      previousWriteKey: { key: s.writeKey, expiresAt: rotated.previousWriteKey.expiresAt },
    });

    const oldKey = { type: 'track', event: 'Old Key', userId: 'u1' };
    const newKey = { type: 'track', event: 'New Key', userId: 'u1' };
    expect((await post('/v1/track', oldKey, { authorization: basic(s.writeKey) })).status).toBe(200);
    expect((await post('/v1/track', newKey, { authorization: basic(rotated.writeKey) })).status).toBe(200);
    const entries = await eventually(async () => {
      const es = await debuggerOf(s.id);
      return es.length === 2 ? es : undefined;
    });
    expect(entries.find((e) => e.event.event === 'Old Key')?.writeKey).toBe('previous');
    expect(entries.find((e) => e.event.event === 'New Key')).not.toHaveProperty('writeKey');
    // The snippet's settings still load with the previous key.
    expect((await SELF.fetch(`http://x/v1/projects/${s.writeKey}/settings`)).status).toBe(200);
  });

  it('graceSeconds 0 retires the old key at once; a second rotation retires the first previous key', async () => {
    const s = await makeSource();
    const event = { type: 'track', event: 'Retired', userId: 'u2' };
    const first = (await rotate(s.id, { graceSeconds: 0 })).body as { writeKey: string; previousWriteKey: unknown };
    expect(first.previousWriteKey).toBeNull();
    // Answered 200 (SDKs must not crash), but nothing reaches the source.
    expect((await post('/v1/track', event, { authorization: basic(s.writeKey) })).status).toBe(200);
    await rotate(s.id, { graceSeconds: 3600 }); // first.writeKey is now the previous key…
    const third = (await rotate(s.id, { graceSeconds: 3600 })).body as { writeKey: string }; // …and now gone
    expect((await post('/v1/track', event, { authorization: basic(first.writeKey) })).status).toBe(200);
    expect((await post('/v1/track', event, { authorization: basic(third.writeKey) })).status).toBe(200);
    const entries = await eventually(async () => {
      const es = await debuggerOf(s.id);
      return es.length >= 1 ? es : undefined;
    });
    // Only the current key's event: the retired key and the replaced previous key wrote nothing.
    expect(entries).toHaveLength(1);
    expect(entries[0]).not.toHaveProperty('writeKey');
    const keys = await eventually(async () => {
      const all = await rejectedKeys();
      const mine = all.filter((k) => k.sourceId === s.id);
      return mine.length === 1 && mine[0].events === 1 ? mine : undefined;
    });
    expect(keys[0]).toMatchObject({ keyPrefix: `${s.writeKey.slice(0, 8)}…`, reason: 'retired' });
  });
});

describe('unknown and disabled write keys', () => {
  it('answer 200 on every collection route, drop the events and count them per key', async () => {
    const s = await makeSource();
    await SELF.fetch(`http://x/api/sources/${s.id}/disable`, { method: 'POST', headers: ADMIN });
    const unknown = `wk_unknown_${crypto.randomUUID().replace(/-/g, '')}`;
    const ua = { 'user-agent': `analytics-node-test/${crypto.randomUUID()}` };
    for (const key of [unknown, s.writeKey]) {
      const auth = { authorization: basic(key), ...ua };
      const single = await post('/v1/track', { event: 'E', userId: 'u' }, auth);
      expect(single.status).toBe(200);
      expect(await single.json()).toEqual({ success: true });
      const batch = await post(
        '/v1/batch',
        {
          batch: [
            { type: 'track', event: 'E', userId: 'u' },
            { type: 'identify', userId: 'u' },
          ],
        },
        auth,
      );
      expect(await batch.json()).toEqual({ success: true });
      expect(
        (await post('/v1/import', { writeKey: key, batch: [{ type: 'track', event: 'E', userId: 'u' }] }, ua)).status,
      ).toBe(200);
      const data = btoa(JSON.stringify({ writeKey: key, event: 'Opened', userId: 'u' }));
      const pixel = await SELF.fetch(`http://x/v1/pixel/track?data=${encodeURIComponent(data)}`, { headers: ua });
      expect(pixel.status).toBe(200);
      expect(pixel.headers.get('content-type')).toBe('image/gif');
    }
    const keys = await eventually(async () => {
      const all = await rejectedKeys();
      const mine = all.filter((k) => k.lastUserAgent === ua['user-agent']);
      return mine.length === 2 && mine.every((k) => k.events === 5) ? mine : undefined;
    });
    const today = new Date().toISOString().slice(0, 10);
    const byReason = Object.fromEntries(keys.map((k) => [k.reason, k]));
    expect(byReason.unknown).toMatchObject({ keyPrefix: `${unknown.slice(0, 8)}…`, sourceId: null, requests: 4 });
    expect(byReason.disabled).toMatchObject({ keyPrefix: `${s.writeKey.slice(0, 8)}…`, sourceId: s.id, requests: 4 });
    for (const k of keys) {
      expect(k.days).toEqual([{ day: today, events: 5, requests: 4 }]);
      expect(Date.parse(k.lastSeen)).toBeGreaterThanOrEqual(Date.parse(k.firstSeen));
    }
    // Never the full key, anywhere in the answer.
    const raw = JSON.stringify(await rejectedKeys());
    expect(raw).not.toContain(unknown);
    expect(raw).not.toContain(s.writeKey);
    // Nothing reached the disabled source.
    expect(await debuggerOf(s.id)).toEqual([]);
  });

  it('still answers 401 to a request with no write key at all, as Segment answers it an error', async () => {
    const res = await post('/v1/track', { event: 'E', userId: 'u' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringMatching(/Missing write key/) },
    });
  });
});
