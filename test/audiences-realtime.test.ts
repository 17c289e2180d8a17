// Real-time audiences through the running Worker: Tracking API → ingest → Profile object (evaluation
// in the apply transaction) → outbox → delivery → webhook; the window-edge alarm; D1 membership.
import { runInDurableObject } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  define,
  eventually,
  getJson,
  makeDestination,
  makeSource,
  profileObject,
  profilePath,
  type Received,
  sendBatch,
  uniq,
  vendor,
  waitForEvents,
} from './kit/workers';

const HOST = 'engage-hook.example';
let hook: ReturnType<typeof vendor>;
let writeKey: string;
let destinationId: string;

beforeAll(async () => {
  hook = vendor(HOST);
  writeKey = (await makeSource('audiences realtime')).writeKey;
  // Connected to audiences only: no source feeds it, so it receives Engage events alone.
  destinationId = (
    await makeDestination({ type: 'webhook', name: 'Engage hook', settings: { url: `https://${HOST}/e` } })
  ).id;
});
afterAll(() => hook.restore());

const fromHook = (pred: (r: Received) => boolean) => eventually(() => hook.received.find(pred));
/** When the profile applied a message, the last of its apply (meta's last seen), read inside the object. */
const appliedAt = (profileId: string, messageId: string) =>
  runInDurableObject(profileObject(profileId), (_i, state) =>
    Date.parse(
      state.storage.sql
        .exec<{ at: string }>('SELECT last_seen_at AS at FROM meta WHERE last_message_id = ?', messageId)
        .one().at,
    ),
  );

describe('real-time audiences', () => {
  it('enters within a second of the qualifying event; the webhook gets Audience Entered as Engage sends it', async () => {
    const audience = await define('audiences', {
      key: 'repeat_buyers',
      emit: 'track',
      destinationIds: [destinationId],
      definition: { event: 'Order Completed', where: 'properties.total > 50', count: { '>=': 2 }, within: '30d' },
    });
    const user = uniq('buyer');
    await sendBatch(writeKey, [
      { type: 'identify', userId: user, traits: { email: `${user}@example.com` } },
      { type: 'track', userId: user, event: 'Order Completed', properties: { total: 80 } },
      { type: 'track', userId: user, event: 'Order Completed', properties: { total: 20 } }, // filtered out
    ]);
    const profileId = await waitForEvents(`user_id:${user}`, 3);
    expect(hook.received.filter((r) => r.body.userId === user)).toEqual([]);

    const qualifying = `q-${user}`;
    const sentAt = Date.now();
    await sendBatch(writeKey, [
      { type: 'track', userId: user, event: 'Order Completed', properties: { total: 99 }, messageId: qualifying },
    ]);
    const got = await fromHook((r) => r.body.userId === user);
    const applied = await appliedAt(profileId, qualifying);
    expect(got.at - applied).toBeLessThan(1000);
    expect(got.at - sentAt).toBeLessThan(5000); // includes the ingest queue's batching wait
    expect(got.body).toMatchObject({
      type: 'track',
      event: 'Audience Entered',
      userId: user,
      messageId: expect.stringMatching(/^personas_aud_/),
      properties: { audience_key: 'repeat_buyers', repeat_buyers: true },
      context: {
        traits: { email: `${user}@example.com` },
        personas: {
          computation_class: 'audience',
          computation_id: audience.id,
          computation_key: 'repeat_buyers',
          namespace: 'default',
          space_id: 'default',
        },
      },
    });

    // Once in, more qualifying events send nothing more; membership lands in D1 in batches.
    await sendBatch(writeKey, [{ type: 'track', userId: user, event: 'Order Completed', properties: { total: 70 } }]);
    await waitForEvents(`user_id:${user}`, 5);
    const members = await eventually(async () => {
      const r = await getJson<{ data: { profileId: string }[] }>('/api/audiences/repeat_buyers/members');
      return r.body.data.some((m) => m.profileId === profileId) ? r.body : undefined;
    });
    expect(members.data).toEqual([{ profileId, enteredAt: expect.any(String) }]);
    const detail = await getJson<{ size: number; history: { entered: number }[] }>('/api/audiences/repeat_buyers');
    expect(detail.body).toMatchObject({ size: 1, history: [{ size: 1, entered: 1, exited: 0 }] });
    expect(hook.received.filter((r) => r.body.userId === user)).toHaveLength(1);

    const traits = await getJson<{ traits: Record<string, unknown> }>(
      profilePath(`user_id:${user}`, 'traits?class=audience'),
    );
    expect(traits.body.traits).toEqual({ repeat_buyers: true });
  }, 30_000);

  it('exits on time through the alarm when the qualifying event ages out, with no new event', async () => {
    await define('audiences', {
      key: 'recent_viewers',
      emit: 'identify',
      destinationIds: [destinationId],
      definition: { event: 'Product Viewed', within: '1m' },
    });
    const user = uniq('viewer');
    // Viewed 57 s ago: in the 1-minute window for 3 more seconds.
    const viewedAt = Date.now() - 57_000;
    await sendBatch(writeKey, [
      { type: 'track', userId: user, event: 'Product Viewed', timestamp: new Date(viewedAt).toISOString() },
    ]);
    const entered = await fromHook((r) => r.body.userId === user && r.body.type === 'identify');
    expect(entered.body).toMatchObject({
      traits: { recent_viewers: true },
      context: { personas: { computation_class: 'audience' } },
    });

    const exited = await fromHook(
      (r) => r.body.userId === user && (r.body.traits as Record<string, unknown>)?.recent_viewers === false,
    );
    const edge = viewedAt + 60_000;
    expect(exited.at).toBeGreaterThanOrEqual(edge);
    expect(exited.at - edge).toBeLessThan(1500);
    expect(exited.body).toMatchObject({ type: 'identify', userId: user, traits: { recent_viewers: false } });
    // Nothing new was sent for this user: the log still holds the one event.
    const events = await getJson<{ data: unknown[] }>(profilePath(`user_id:${user}`, 'events?limit=10'));
    expect(events.body.data).toHaveLength(1);
    const traits = await getJson<{ traits: Record<string, unknown> }>(
      profilePath(`user_id:${user}`, 'traits?class=audience'),
    );
    expect(traits.body.traits).toEqual({ recent_viewers: false });
  }, 30_000);

  it('evaluates account audiences over account profiles made by group calls', async () => {
    const audience = await define('audiences', {
      key: 'enterprise_accounts',
      collection: 'accounts',
      destinationIds: [destinationId],
      definition: {
        and: [
          { trait: 'plan', op: '=', value: 'enterprise' },
          { trait: 'seats', op: '>=', value: 50 },
        ],
      },
    });
    const user = uniq('admin');
    const group = uniq('acme');
    await sendBatch(writeKey, [
      { type: 'group', userId: user, groupId: group, traits: { plan: 'enterprise', seats: 10 } },
    ]);
    await waitForEvents(`user_id:${user}`, 1);
    await sendBatch(writeKey, [{ type: 'group', userId: user, groupId: group, traits: { seats: 80 } }]);
    const got = await fromHook((r) => r.body.groupId === group);
    expect(got.body).toMatchObject({
      type: 'group',
      groupId: group,
      userId: user,
      traits: { enterprise_accounts: true },
      context: { personas: { computation_class: 'audience', computation_id: audience.id } },
    });
    const traits = await getJson<{ traits: Record<string, unknown> }>(
      profilePath(`group_id:${group}`, 'traits?class=audience', 'accounts'),
    );
    expect(traits.body.traits).toEqual({ enterprise_accounts: true });
    const members = await eventually(async () => {
      const r = await getJson<{ data: { profileId: string }[] }>('/api/audiences/enterprise_accounts/members');
      return r.body.data.length ? r.body.data : undefined;
    });
    expect(members).toEqual([{ profileId: expect.stringMatching(/^acc_/), enteredAt: expect.any(String) }]);
  }, 30_000);

  it('moves membership with a merge: the survivor re-evaluates with the merged history, the loser leaves', async () => {
    const audience = await define('audiences', { key: 'any_viewers', definition: { event: 'Catalog Viewed' } });
    const members = async () =>
      (await getJson<{ data: { profileId: string }[] }>('/api/audiences/any_viewers/members')).body.data
        .map((m) => m.profileId)
        .join(',');
    const user = uniq('merger');
    const [anonB, anonA] = [uniq('b'), uniq('a')];
    await sendBatch(writeKey, [{ type: 'identify', userId: user, anonymousId: anonB }]);
    const survivor = await waitForEvents(`user_id:${user}`, 1); // the older profile: the smaller id
    await sendBatch(writeKey, [{ type: 'track', anonymousId: anonA, event: 'Catalog Viewed' }]);
    const loser = await waitForEvents(`anonymous_id:${anonA}`, 1);
    await eventually(async () => ((await members()) === loser ? true : undefined));

    await sendBatch(writeKey, [{ type: 'identify', userId: user, anonymousId: anonA }]);
    await eventually(async () => ((await members()) === survivor ? true : undefined));
    const traits = await getJson<{ traits: unknown }>(profilePath(`user_id:${user}`, 'traits?class=audience'));
    expect(traits.body.traits).toEqual({ any_viewers: true });
    const detail = await getJson<{ history: unknown[] }>('/api/audiences/any_viewers');
    expect(detail.body.history).toMatchObject([{ size: 1, entered: 2, exited: 1 }]);
    expect(audience.id).toMatch(/^aud_/);
  }, 30_000);
});
