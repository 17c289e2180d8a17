import { describe, expect, it } from 'vitest';
import { ADMIN, basic, makeSource, post, SELF } from './helpers';

describe('/api/sources', () => {
  it('creates, lists and reads a source', async () => {
    const s = await makeSource('Website');
    expect(s.writeKey).toMatch(/^wk_/);
    const list = await (await SELF.fetch('http://x/api/sources', { headers: ADMIN })).json<{
      data: { id: string }[];
    }>();
    expect(list.data.map((d) => d.id)).toContain(s.id);
    const one = await SELF.fetch(`http://x/api/sources/${s.id}`, { headers: ADMIN });
    expect(await one.json()).toMatchObject({ id: s.id, name: 'Website', enabled: true });
  });

  it('rejects requests without a valid token', async () => {
    const none = await SELF.fetch('http://x/api/sources');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const wrong = await SELF.fetch('http://x/api/sources', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
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
  });

  it('rotating the key retires the old one; disabling blocks writes', async () => {
    const s = await makeSource();
    const event = { type: 'track', event: 'A', userId: 'u1' };
    expect((await post('/v1/track', event, { authorization: basic(s.writeKey) })).status).toBe(200);
    const rotated = await (
      await SELF.fetch(`http://x/api/sources/${s.id}/rotate-key`, { method: 'POST', headers: ADMIN })
    ).json<{ writeKey: string }>();
    expect(rotated.writeKey).not.toBe(s.writeKey);
    expect((await post('/v1/track', event, { authorization: basic(s.writeKey) })).status).toBe(401);
    expect((await post('/v1/track', event, { authorization: basic(rotated.writeKey) })).status).toBe(200);
    await SELF.fetch(`http://x/api/sources/${s.id}/disable`, { method: 'POST', headers: ADMIN });
    expect((await post('/v1/track', event, { authorization: basic(rotated.writeKey) })).status).toBe(401);
  });
});
