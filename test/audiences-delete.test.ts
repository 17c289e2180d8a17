// Deleting audiences and computed traits through the running Worker: references guard the delete,
// D1 forgets members, profiles drop the result without sending an exit, and a key can be reused.
import { env, runInDurableObject } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  define,
  eventually,
  getJson,
  makeDestination,
  makeSource,
  profileObject,
  profilePath,
  type Received,
  SELF,
  sendBatch,
  uniq,
  vendor,
  waitForEvents,
} from './kit/workers';

const HOST = 'engage-delete.example';
let hook: ReturnType<typeof vendor>;
let writeKey: string;
let destinationId: string;

beforeAll(async () => {
  hook = vendor(HOST);
  writeKey = (await makeSource('audience deletes')).writeKey;
  destinationId = (
    await makeDestination({ type: 'webhook', name: 'Delete hook', settings: { url: `https://${HOST}/e` } })
  ).id;
});
afterAll(() => hook.restore());

const del = (path: string, headers: Record<string, string> = ADMIN) =>
  SELF.fetch(`http://tessera.test${path}`, { method: 'DELETE', headers });
const storedKeys = (profileId: string) =>
  runInDurableObject(profileObject(profileId), (_i, state) =>
    state.storage.sql
      .exec<{ key: string }>('SELECT key FROM engage_values ORDER BY key')
      .toArray()
      .map((r) => r.key),
  );
const entered = (user: string) => (r: Received) => r.body.userId === user && r.body.event === 'Audience Entered';

describe('deleting definitions', () => {
  it('refuses while another audience refers to it, and answers 404 and 401 like every route', async () => {
    await define('computed-traits', { key: 'del_orders', type: 'count', event: 'Order Completed' });
    await define('audiences', { key: 'del_base', definition: { trait: 'plan', op: '=', value: 'pro' } });
    await define('audiences', {
      key: 'del_user',
      definition: { and: [{ computed: 'del_orders', op: '>=', value: 1 }, { audience: 'del_base' }] },
    });
    for (const path of ['/api/computed-traits/del_orders', '/api/audiences/del_base']) {
      const res = await del(path);
      expect(res.status).toBe(409);
      expect(await res.json()).toEqual({ error: { code: 'in_use', message: expect.stringContaining('del_user') } });
    }
    expect((await del('/api/audiences/del_user', { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await del('/api/audiences/no_such_audience')).status).toBe(404);

    expect((await del('/api/audiences/del_user')).status).toBe(204);
    expect((await del('/api/audiences/del_base')).status).toBe(204);
    expect((await del('/api/computed-traits/del_orders')).status).toBe(204);
    expect((await getJson('/api/computed-traits/del_orders')).status).toBe(404);
    const left = await getJson<{ data: { key: string }[] }>('/api/audiences');
    expect(left.body.data.map((a) => a.key)).not.toContain('del_base');
  });

  it('forgets members and the profile result without an exit event; the key then starts afresh', async () => {
    const first = await define('audiences', {
      key: 'gold',
      emit: 'track',
      destinationIds: [destinationId],
      definition: { event: 'Upgraded' },
    });
    const user = uniq('gold');
    await sendBatch(writeKey, [{ type: 'track', userId: user, event: 'Upgraded' }]);
    const profileId = await waitForEvents(`user_id:${user}`, 1);
    await eventually(() => hook.received.find(entered(user)));
    await eventually(async () => {
      const r = await getJson<{ data: { profileId: string }[] }>('/api/audiences/gold/members');
      return r.body.data.length === 1 ? true : undefined;
    });

    expect((await del('/api/audiences/gold')).status).toBe(204);
    expect((await getJson('/api/audiences/gold')).status).toBe(404);
    expect((await getJson('/api/audiences/gold/members')).status).toBe(404);
    const members = await env.DB.prepare('SELECT count(*) AS n FROM audience_members WHERE audience_id = ?')
      .bind(first.id)
      .first<{ n: number }>();
    expect(members?.n).toBe(0);
    // The Profile API stops showing it at once; the object drops it at its next evaluation.
    const traits = await getJson<{ traits: Record<string, unknown> }>(
      profilePath(`user_id:${user}`, 'traits?class=audience'),
    );
    expect(traits.body.traits).toEqual({});
    expect(await storedKeys(profileId)).toEqual(['gold']);
    await sendBatch(writeKey, [{ type: 'track', userId: user, event: 'Browsed' }]);
    await waitForEvents(`user_id:${user}`, 2);
    expect(await storedKeys(profileId)).toEqual([]);

    // Same key, new audience: the back-fill enters the user again, under the new id.
    const second = await define('audiences', {
      key: 'gold',
      emit: 'track',
      destinationIds: [destinationId],
      definition: { event: 'Upgraded' },
    });
    expect(second.id).not.toBe(first.id);
    await eventually(() => (hook.received.filter(entered(user)).length === 2 ? true : undefined), 20_000);
    const again = hook.received.filter(entered(user)).at(-1)!;
    expect(again.body).toMatchObject({ context: { personas: { computation_id: second.id } } });
    expect(hook.received.filter((r) => r.body.userId === user && r.body.event === 'Audience Exited')).toEqual([]);
    const now = await eventually(async () => {
      const r = await getJson<{ data: { profileId: string }[] }>('/api/audiences/gold/members');
      return r.body.data.length === 1 ? r.body.data : undefined;
    });
    expect(now).toEqual([{ profileId, enteredAt: expect.any(String) }]);
  }, 40_000);
});
