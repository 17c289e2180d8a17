import { describe, expect, it } from 'vitest';
import { ADMIN, basic, makeSource, post, SELF } from './kit/workers';

const setTier = (id: string, tier: unknown) =>
  SELF.fetch(`http://tessera.test/api/sources/${id}/rate-limit`, {
    method: 'PUT',
    headers: ADMIN,
    body: JSON.stringify({ tier }),
  });

const track = (writeKey: string, ip?: string) =>
  post(
    '/v1/track',
    { userId: 'rl-user', event: 'Limited' },
    {
      authorization: basic(writeKey),
      ...(ip ? { 'cf-connecting-ip': ip } : {}),
    },
  );

/** Sends until the first non-200 (at most `max`); returns how many were accepted and the refusal. */
async function sendUntilRefused(writeKey: string, max: number, ip: (i: number) => string | undefined) {
  for (let i = 0; i < max; i++) {
    const res = await track(writeKey, ip(i));
    if (res.status !== 200) return { accepted: i, res };
    await res.body?.cancel();
  }
  return { accepted: max, res: undefined };
}

describe('collection rate limits (Workers Rate Limiting binding)', () => {
  it('answers 429 with Retry-After once a client IP passes its tier, while other IPs go on', async () => {
    const source = await makeSource('rate limited ip');
    expect((await setTier(source.id, 'strict')).status).toBe(200);
    const { accepted, res } = await sendUntilRefused(source.writeKey, 60, () => '203.0.113.7');
    expect(res?.status).toBe(429);
    // 20 per 10 s window (40 at most if the run straddles a window edge)
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(40);
    expect(res?.headers.get('retry-after')).toBe('10');
    expect(await res?.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect((await track(source.writeKey, '203.0.113.8')).status).toBe(200);
  });

  it('limits a source across all its clients, and `off` lifts the limit', async () => {
    const source = await makeSource('rate limited source');
    expect((await setTier(source.id, 'strict')).status).toBe(200);
    const many = await sendUntilRefused(source.writeKey, 250, (i) => `198.51.100.${i % 200}`);
    expect(many.res?.status).toBe(429);
    // 100 per 10 s window: at most two windows' worth when the run straddles a window edge
    expect(many.accepted).toBeLessThanOrEqual(200);
    expect((await setTier(source.id, 'off')).status).toBe(200);
    const free = await sendUntilRefused(source.writeKey, 40, () => '203.0.113.9');
    expect(free).toMatchObject({ accepted: 40, res: undefined });
  }, 60_000);

  it('a source on the default tier is not limited by ordinary traffic', async () => {
    const source = await makeSource('rate default');
    const run = await sendUntilRefused(source.writeKey, 30, () => '192.0.2.1');
    expect(run.accepted).toBe(30);
  });

  it('reads and validates the tier setting', async () => {
    const source = await makeSource('rate api');
    const get = await SELF.fetch(`http://tessera.test/api/sources/${source.id}/rate-limit`, { headers: ADMIN });
    expect(await get.json()).toEqual({ tier: 'standard' });
    expect((await setTier(source.id, 'fast')).status).toBe(400);
    expect((await setTier('src_missing', 'high')).status).toBe(404);
    expect((await setTier(source.id, 'high')).status).toBe(200);
    const after = await SELF.fetch(`http://tessera.test/api/sources/${source.id}/rate-limit`, { headers: ADMIN });
    expect(await after.json()).toEqual({ tier: 'high' });
  });
});
