import { runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../src/identity/settings';
import type { EnrichedEvent } from '../src/ingest/spec';
import { consumeDirectly } from './identity-model';
import type { TestProfile } from './kit/test-profile';
import {
  ADMIN,
  eventually,
  getJson,
  makeSource,
  profileObject,
  SELF,
  sendBatch,
  uniq,
  userPath,
  waitForEvents,
} from './kit/workers';

type Ext = { data: { type: string; id: string }[] };
const ids = async (ref: string) =>
  (await getJson<Ext>(userPath(ref, 'external_ids', '?limit=100'))).body.data.map((d) => `${d.type}:${d.id}`).sort();
const status = async (ref: string) => (await getJson(userPath(ref, 'metadata'))).status;
const traitsOf = async (ref: string) =>
  (await getJson<{ traits: Record<string, unknown> }>(userPath(ref, 'traits', '?limit=200'))).body.traits;

async function putSettings(body: unknown) {
  const res = await SELF.fetch('http://tessera.test/api/identity/settings', {
    method: 'PUT',
    headers: ADMIN,
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

describe('identity cases through the running Worker', { timeout: 30_000 }, () => {
  let writeKey: string;
  let sourceId: string;
  beforeAll(async () => {
    ({ writeKey, id: sourceId } = await makeSource('identity cases'));
  });

  it('a shared device never merges two users; the device stays with its first user', async () => {
    const [ann, bob, d, a1, b1] = [uniq('ann'), uniq('bob'), uniq('ipad'), uniq('a'), uniq('b')];
    const device = { id: d, type: 'ios' };
    await sendBatch(writeKey, [{ type: 'identify', userId: ann, anonymousId: a1, context: { device } }]);
    const annProfile = await waitForEvents(`user_id:${ann}`, 1);
    await sendBatch(writeKey, [{ type: 'identify', userId: bob, anonymousId: b1, context: { device } }]);
    const bobProfile = await waitForEvents(`user_id:${bob}`, 1);
    expect(bobProfile).not.toBe(annProfile);
    expect(await ids(`user_id:${ann}`)).toEqual([`anonymous_id:${a1}`, `ios.id:${d}`, `user_id:${ann}`].sort());
    expect(await ids(`user_id:${bob}`)).toEqual([`anonymous_id:${b1}`, `user_id:${bob}`].sort());
    // The same holds for a shared browser (anonymousId).
    await sendBatch(writeKey, [{ type: 'track', event: 'Kiosk', userId: uniq('carl'), anonymousId: a1 }]);
    await eventually(async () =>
      (await getJson<{ data: unknown[] }>(userPath(`user_id:${ann}`, 'events'))).body.data.length === 1
        ? true
        : undefined,
    );
    expect(await waitForEvents(`anonymous_id:${a1}`, 1)).toBe(annProfile);
  });

  it('with Segment\'s "5 weekly" for anonymous ids, a sixth this week is dropped, not a week later', async () => {
    const s = defaultSettings();
    const weekly = { priority: s.identifiers.anonymous_id.priority, limit: 5, window: 'weekly' };
    await putSettings({ ...s, identifiers: { ...s.identifiers, anonymous_id: weekly } });
    const user = uniq('browsers');
    const anons = Array.from({ length: 8 }, (_, i) => uniq(`br${i}`));
    await sendBatch(
      writeKey,
      anons.slice(0, 5).map((anonymousId) => ({ type: 'identify', userId: user, anonymousId })),
    );
    const profileId = await waitForEvents(`user_id:${user}`, 5);
    await sendBatch(writeKey, [{ type: 'identify', userId: user, anonymousId: anons[5] }]);
    await waitForEvents(`user_id:${user}`, 6);
    expect(await ids(`user_id:${user}`)).not.toContain(`anonymous_id:${anons[5]}`);
    expect(await status(`anonymous_id:${anons[5]}`)).toBe(404);

    // Eight days on (the identifiers' dates moved back), the window holds none of them any more.
    const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000).toISOString();
    await runInDurableObject(profileObject(profileId), (instance) => {
      // The identifiers are one JSON object in the meta row (src/profiles/store.ts), written
      // through the object's own meter, which keeps the row until a write (SqlMeter.memo).
      (instance as TestProfile).meter.exec(
        `UPDATE meta SET identifiers_json = (SELECT json_group_object(key, CASE WHEN value ->> 'kind' = 'anonymous_id'
           THEN json_set(value, '$.created_at', ?) ELSE json(value) END) FROM json_each(identifiers_json))`,
        eightDaysAgo,
      );
    });
    await sendBatch(writeKey, [{ type: 'identify', userId: user, anonymousId: anons[6] }]);
    await waitForEvents(`user_id:${user}`, 7);
    expect(await ids(`user_id:${user}`)).toContain(`anonymous_id:${anons[6]}`);
    expect(await waitForEvents(`anonymous_id:${anons[6]}`, 7)).toBe(profileId);
    await putSettings(defaultSettings());
  });

  it('blocked values never identify anyone; an event with only blocked ids still gets accepted', async () => {
    const a = uniq('anon');
    await sendBatch(writeKey, [
      { type: 'track', event: 'Only blocked', userId: '0', anonymousId: 'undefined' },
      { type: 'identify', userId: 'null', anonymousId: a, traits: { email: 'anonymous' } },
    ]);
    await waitForEvents(`anonymous_id:${a}`, 1);
    expect(await ids(`anonymous_id:${a}`)).toEqual([`anonymous_id:${a}`]);
    for (const ref of ['user_id:null', 'email:anonymous', 'user_id:0', 'anonymous_id:undefined']) {
      expect(await status(ref), ref).toBe(404);
    }
    // A value added to the workspace's blocked list stops identifying from then on.
    await putSettings({ ...defaultSettings(), blockedValues: [...defaultSettings().blockedValues, 'qa-user'] });
    const b = uniq('anon');
    await sendBatch(writeKey, [{ type: 'identify', userId: 'QA-User', anonymousId: b }]);
    await waitForEvents(`anonymous_id:${b}`, 1);
    expect(await status('user_id:QA-User')).toBe(404);
    await putSettings(defaultSettings());
  });

  it('traits follow the event timestamp, whatever order events arrive in', async () => {
    const u = uniq('u');
    await sendBatch(writeKey, [
      { type: 'identify', userId: u, timestamp: new Date(Date.now() - 60_000).toISOString(), traits: { plan: 'pro' } },
    ]);
    await waitForEvents(`user_id:${u}`, 1);
    await sendBatch(writeKey, [
      {
        type: 'identify',
        userId: u,
        timestamp: new Date(Date.now() - 120_000).toISOString(),
        traits: { plan: 'free', name: 'Ann' },
      },
    ]);
    await waitForEvents(`user_id:${u}`, 2);
    expect(await traitsOf(`user_id:${u}`)).toEqual({ plan: 'pro', name: 'Ann' });
  });

  it('alias chains link previousId and userId, within the limits', async () => {
    const [a1, u1, u2] = [uniq('a'), uniq('u'), uniq('u')];
    await putSettings({
      ...defaultSettings(),
      identifiers: { ...defaultSettings().identifiers, user_id: { priority: 1, limit: 3 } },
    });
    await sendBatch(writeKey, [{ type: 'track', event: 'Browse', anonymousId: a1 }]);
    await waitForEvents(`anonymous_id:${a1}`, 1);
    await sendBatch(writeKey, [{ type: 'alias', previousId: a1, userId: u1 }]);
    await waitForEvents(`user_id:${u1}`, 2);
    await sendBatch(writeKey, [{ type: 'track', event: 'Buy', userId: u1 }]);
    await waitForEvents(`user_id:${u1}`, 3);
    await sendBatch(writeKey, [{ type: 'alias', previousId: u1, userId: u2 }]);
    const id = await waitForEvents(`user_id:${u2}`, 4);
    expect(await ids(`anonymous_id:${a1}`)).toEqual([`anonymous_id:${a1}`, `user_id:${u1}`, `user_id:${u2}`].sort());
    expect(await waitForEvents(`anonymous_id:${a1}`, 4)).toBe(id);
    // With Segment's default (one user_id per profile) aliasing two known users is refused.
    await putSettings(defaultSettings());
    const [v1, v2] = [uniq('v'), uniq('v')];
    await sendBatch(writeKey, [
      { type: 'track', event: 'E', userId: v1 },
      { type: 'track', event: 'E', userId: v2 },
    ]);
    await waitForEvents(`user_id:${v2}`, 1);
    await sendBatch(writeKey, [{ type: 'alias', previousId: v1, userId: v2 }]);
    const p2 = await waitForEvents(`user_id:${v2}`, 2);
    expect(await waitForEvents(`user_id:${v1}`, 1)).not.toBe(p2);
  });

  it('group calls create an account profile with its traits, linked to the user', async () => {
    const [u, g] = [uniq('u'), uniq('acme')];
    await sendBatch(writeKey, [{ type: 'group', userId: u, groupId: g, traits: { name: 'Acme', employees: 40 } }]);
    await waitForEvents(`user_id:${u}`, 1);
    const account = (path: string) =>
      getJson<Record<string, unknown>>(`/v1/spaces/default/collections/accounts/profiles/group_id:${g}/${path}`);
    await eventually(async () => ((await account('traits')).status === 200 ? true : undefined));
    expect((await account('traits')).body.traits).toEqual({ name: 'Acme', employees: 40 });
    expect((await account('links')).body.data).toMatchObject([
      { to_collection: 'users', external_ids: [{ id: u, type: 'user_id', collection: 'users' }] },
    ]);
    expect((await getJson(userPath(`user_id:${u}`, 'links'))).body.data).toMatchObject([
      {
        to_collection: 'accounts',
        external_ids: [{ id: g, type: 'group_id', collection: 'accounts', source_id: sourceId }],
      },
    ]);
    expect(await traitsOf(`user_id:${u}`)).toEqual({}); // group traits belong to the account
  });

  it('a redelivered message is a no-op, however often it comes back', async () => {
    const u = uniq('u');
    const now = new Date().toISOString();
    const event = {
      type: 'identify',
      userId: u,
      messageId: uniq('m'),
      traits: { visits: 1 },
      timestamp: now,
      receivedAt: now,
      originalTimestamp: now,
      context: {},
    } as unknown as EnrichedEvent;
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(
        await consumeDirectly(
          [
            { sourceId, event },
            { sourceId, event },
          ],
          attempt,
        ),
      ).toEqual([]);
    }
    await sendBatch(writeKey, [{ ...event, receivedAt: undefined }]);
    await sendBatch(writeKey, [{ type: 'track', event: 'Marker', userId: u }]);
    await waitForEvents(`user_id:${u}`, 2);
    const events = await getJson<{ data: { message_id: string }[] }>(userPath(`user_id:${u}`, 'events'));
    expect(events.body.data.filter((e) => e.message_id === event.messageId)).toHaveLength(1);
  });

  it('records why profiles were merged, visible in the profile directory', async () => {
    const [a, u] = [uniq('a'), uniq('u')];
    await sendBatch(writeKey, [
      { type: 'track', event: 'Anon', anonymousId: a },
      { type: 'track', event: 'Known', userId: u },
    ]);
    await waitForEvents(`user_id:${u}`, 1);
    await waitForEvents(`anonymous_id:${a}`, 1);
    const link = { type: 'identify', userId: u, anonymousId: a, messageId: uniq('link') };
    await sendBatch(writeKey, [link]);
    const id = await waitForEvents(`user_id:${u}`, 3);
    const detail = await getJson<{
      id: string;
      merges: { profileId: string; reason: string }[];
      identifiers: unknown[];
    }>(`/api/profiles/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.merges).toHaveLength(1);
    expect(detail.body.merges[0].reason).toContain(link.messageId);
    expect(detail.body.identifiers).toHaveLength(2);
    const loser = detail.body.merges[0].profileId;
    expect((await getJson<{ id: string }>(`/api/profiles/${loser}`)).body.id).toBe(id);
  });
});
