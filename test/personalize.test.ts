// GET /v1/personalize: public audiences and computed traits only, from the Profile object; a userId
// only with a token signed by the source's personalize secret; an anonymousId only for an anonymous
// profile; publicity checked through every definition an audience uses. And the Profile API
// listing audiences and computed traits as traits by class.
import { beforeAll, describe, expect, it } from 'vitest';
import { signPersonalizeToken } from '../src/audiences/personalize-token';
import {
  ADMIN,
  basic,
  define,
  eventually,
  getJson,
  makeSource,
  profilePath,
  SELF,
  sendBatch,
  uniq,
  waitForEvents,
} from './kit/workers';

let source: { id: string; writeKey: string };
let writeKey: string;
let secret: string;
const personalize = (query: string, headers: Record<string, string> = {}) =>
  getJson<Record<string, unknown>>(`/v1/personalize?${query}`, headers);
const createSecret = async (id: string) => {
  const res = await SELF.fetch(`http://x/api/sources/${id}/personalize-secret`, { method: 'POST', headers: ADMIN });
  expect(res.status).toBe(201);
  return (await res.json<{ personalizeSecret: { secret: string; createdAt: string } }>()).personalizeSecret;
};
const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;
const tokenFor = (userId: string, exp = inOneHour(), key = secret) => signPersonalizeToken(key, userId, exp);
const byUser = async (userId: string, token?: string) =>
  personalize(
    `writeKey=${writeKey}&userId=${encodeURIComponent(userId)}${token ? `&token=${encodeURIComponent(token)}` : ''}`,
  );

// What every visitor's answer holds: the public definitions, and only audiences public through and through.
const EMPTY = { audiences: { engaged: false, built_on_engaged: false }, traits: { views_1d: 0 } };

beforeAll(async () => {
  source = await makeSource('personalize');
  writeKey = source.writeKey;
  secret = (await createSecret(source.id)).secret;
  await define('computed-traits', {
    key: 'views_1d',
    type: 'count',
    event: 'Product Viewed',
    within: '1d',
    public: true,
  });
  await define('computed-traits', { key: 'lifetime_views', type: 'count', event: 'Product Viewed' });
  await define('audiences', { key: 'engaged', public: true, definition: { computed: 'views_1d', op: '>=', value: 2 } });
  await define('audiences', { key: 'secret_vip', definition: { event: 'Product Viewed' } });
  // Public, but built on private definitions: serving them would reveal those by threshold.
  await define('audiences', {
    key: 'leaky_threshold',
    public: true,
    definition: { computed: 'lifetime_views', op: '>=', value: 1 },
  });
  await define('audiences', { key: 'leaky_nested', public: true, definition: { audience: 'secret_vip' } });
  await define('audiences', {
    key: 'leaky_deep',
    public: true,
    definition: { and: [{ audience: 'engaged' }, { not: { audience: 'leaky_threshold' } }] },
  });
  await define('audiences', { key: 'built_on_engaged', public: true, definition: { audience: 'engaged' } });
});

describe('GET /v1/personalize', () => {
  it('answers public audiences and computed traits only; a userId with a token, an anonymousId while anonymous', async () => {
    const anon = uniq('anon');
    const user = uniq('user');
    await sendBatch(writeKey, [
      { type: 'track', anonymousId: anon, event: 'Product Viewed', properties: { sku: 'a' } },
      { type: 'track', anonymousId: anon, event: 'Product Viewed', properties: { sku: 'b' } },
    ]);
    const answer = await eventually(async () => {
      const r = await personalize(`writeKey=${writeKey}&anonymousId=${anon}`);
      return (r.body.audiences as Record<string, boolean>)?.built_on_engaged ? r : undefined;
    });
    const member = { audiences: { engaged: true, built_on_engaged: true }, traits: { views_1d: 2 } };
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(member);
    expect(JSON.stringify(answer.body)).not.toMatch(/secret_vip|lifetime_views|leaky/);
    expect(answer.headers.get('cache-control')).toBe('private, no-store');

    // identify links the visitor to a user: from now on only a token opens the profile.
    await sendBatch(writeKey, [{ type: 'identify', anonymousId: anon, userId: user, traits: { plan: 'pro' } }]);
    await waitForEvents(`user_id:${user}`, 3);
    const withToken = await getJson(
      `/v1/personalize?userId=${user}&token=${await tokenFor(user)}`,
      { authorization: basic(writeKey) }, // the write key as the Basic user
    );
    expect(withToken.body).toEqual(member);
    // The anonymousId of an identified profile (a cookie value, maybe leaked) answers as nobody.
    expect((await personalize(`writeKey=${writeKey}&anonymousId=${anon}`)).body).toEqual(EMPTY);

    // Nobody known: same shape, nothing set, so a lookup tells nothing about who exists.
    expect((await personalize(`writeKey=${writeKey}&anonymousId=${uniq('nobody')}`)).body).toEqual(EMPTY);
    const stranger = uniq('stranger');
    expect((await byUser(stranger, await tokenFor(stranger))).body).toEqual(EMPTY);

    // The Profile API (with its token) shows everything, as traits by class.
    const ref = `user_id:${user}`;
    const audiences = await getJson<{ traits: unknown }>(profilePath(ref, 'traits?class=audience'));
    expect(audiences.body.traits).toEqual({
      built_on_engaged: true,
      engaged: true,
      leaky_nested: true,
      leaky_threshold: true,
      secret_vip: true,
    });
    const computed = await getJson<{ traits: unknown }>(profilePath(ref, 'traits?class=computed_trait'));
    expect(computed.body.traits).toEqual({ lifetime_views: 2, views_1d: 2 });
    const custom = await getJson<{ traits: unknown }>(profilePath(ref, 'traits?class=trait'));
    expect(custom.body.traits).toEqual({ plan: 'pro' });
  }, 30_000);

  it('refuses a userId without a valid token for exactly that user, whether or not the user exists', async () => {
    const user = uniq('known');
    await sendBatch(writeKey, [{ type: 'identify', userId: user, traits: { plan: 'x' } }]);
    await waitForEvents(`user_id:${user}`, 1);
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, (who: string) => Promise<string | undefined> | string | undefined, RegExp][] = [
      ['no token', () => undefined, /needs a `token`/],
      ['another user’s token', () => tokenFor(uniq('someone')), /does not match/],
      ['expired', (who) => tokenFor(who, now - 1), /expired/],
      ['too far ahead', (who) => tokenFor(who, now + 8 * 86_400), /too far ahead/],
      ['wrong secret', (who) => tokenFor(who, inOneHour(), 'ps_not_the_secret'), /does not match/],
      ['malformed', () => 'v1.abc.def', /malformed/],
      [
        'tampered expiry',
        async (who) => (await tokenFor(who)).replace(/^v1\.(\d+)/, (_, e) => `v1.${Number(e) + 1}`),
        /does not match/,
      ],
    ];
    for (const [what, token, message] of cases) {
      for (const [who, label] of [
        [user, 'known'],
        [uniq('unknown'), 'unknown'],
      ]) {
        const r = await byUser(who, await token(who));
        expect({ what, label, status: r.status }).toEqual({ what, label, status: 401 });
        expect(r.body).toEqual({ error: { code: 'unauthorized', message: expect.stringMatching(message) } });
      }
    }
  });

  it('turns userId personalization off without a secret, and rotating the secret retires old tokens', async () => {
    const s = await makeSource('no secret');
    const user = uniq('u');
    const r = await personalize(`writeKey=${s.writeKey}&userId=${user}&token=v1.1.x`);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({
      error: { code: 'forbidden', message: expect.stringMatching(/personalize secret/) },
    });

    const first = await createSecret(s.id);
    expect(first.secret).toMatch(/^ps_[0-9a-f]{64}$/);
    // Shown once: the source view only says when it was made.
    const view = await getJson(`/api/sources/${s.id}`);
    expect(view.body.personalizeSecret).toEqual({ createdAt: first.createdAt });
    expect(JSON.stringify(view.body)).not.toContain(first.secret);
    const oldToken = await signPersonalizeToken(first.secret, user, inOneHour());
    const q = `writeKey=${s.writeKey}&userId=${user}&token=${oldToken}`;
    expect((await personalize(q)).status).toBe(200);

    const second = await createSecret(s.id);
    expect(second.secret).not.toBe(first.secret);
    expect((await personalize(q)).status).toBe(401);
    const newToken = await signPersonalizeToken(second.secret, user, inOneHour());
    expect((await personalize(`writeKey=${s.writeKey}&userId=${user}&token=${newToken}`)).status).toBe(200);

    const off = await SELF.fetch(`http://x/api/sources/${s.id}/personalize-secret`, {
      method: 'DELETE',
      headers: ADMIN,
    });
    expect(await off.json()).toMatchObject({ personalizeSecret: null });
    expect((await personalize(`writeKey=${s.writeKey}&userId=${user}&token=${newToken}`)).status).toBe(403);
  });

  it('answers in milliseconds', async () => {
    const anon = uniq('fast');
    await sendBatch(writeKey, [{ type: 'track', anonymousId: anon, event: 'Product Viewed' }]);
    await waitForEvents(`anonymous_id:${anon}`, 1);
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const r = await SELF.fetch(`http://tessera.test/v1/personalize?writeKey=${writeKey}&anonymousId=${anon}`);
      expect(r.status).toBe(200);
      await r.arrayBuffer();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    expect(times[15]).toBeLessThan(50); // median, in workerd on a shared CI machine
  }, 30_000);

  it('rejects bad input with a clear 4xx', async () => {
    const cases: [string, Record<string, string>, number, string, RegExp][] = [
      ['anonymousId=a', {}, 401, 'unauthorized', /Missing write key/],
      ['writeKey=wk_nope&anonymousId=a', {}, 401, 'unauthorized', /Unknown or disabled write key/],
      [`writeKey=${writeKey}`, {}, 400, 'invalid_request', /anonymousId.*userId/],
      [`writeKey=${writeKey}&userId=%20`, {}, 400, 'invalid_request', /anonymousId.*userId/],
      [`writeKey=${writeKey}&userId=a&userId=b`, {}, 400, 'invalid_request', /once/],
      [`writeKey=${writeKey}&userId=${'x'.repeat(1001)}`, {}, 400, 'invalid_request', /at most 1000/],
      [`writeKey=${writeKey}&userId=a&token=1&token=2`, {}, 400, 'invalid_request', /once/],
      ['userId=a', { authorization: 'Basic !!!' }, 401, 'unauthorized', /not valid Basic/],
    ];
    for (const [query, headers, status, code, message] of cases) {
      const r = await personalize(query, headers);
      expect({ query, status: r.status }).toEqual({ query, status });
      expect(r.body).toEqual({ error: { code, message: expect.stringMatching(message) } });
    }
  });
});
