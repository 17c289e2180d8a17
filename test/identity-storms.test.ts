import { runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../src/identity/settings';
import { ProfileStore } from '../src/profiles/store';
import {
  ADMIN,
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
  (await getJson<Ext>(userPath(ref, 'external_ids', '?limit=100'))).body.data.map((d) => `${d.type}:${d.id}`);

async function putSettings(body: unknown) {
  const res = await SELF.fetch('http://tessera.test/api/identity/settings', {
    method: 'PUT',
    headers: ADMIN,
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

const externalIds = (type: string, values: string[]) =>
  values.map((id) => ({ id, type, collection: 'users', encoding: 'none' }));

// Before, the resolver dropped one surplus identifier per attempt and gave up after 30: such an
// event was retried for about an hour and a half, then dead-lettered. Now it lands at once.
describe('identifier storms', { timeout: 30_000 }, () => {
  let writeKey: string;
  beforeAll(async () => {
    ({ writeKey } = await makeSource('identity storms'));
  });

  it('an event with 50 external ids of one kind lands on a profile, keeping the first 5', async () => {
    const anon = uniq('storm-anon');
    const crm = Array.from({ length: 50 }, (_, i) => uniq(`crm${i}`));
    await sendBatch(writeKey, [
      { type: 'track', event: 'Storm', anonymousId: anon, context: { externalIds: externalIds('crm_id', crm) } },
    ]);
    await waitForEvents(`anonymous_id:${anon}`, 1, 8_000);
    expect((await ids(`anonymous_id:${anon}`)).sort()).toEqual(
      [`anonymous_id:${anon}`, ...crm.slice(0, 5).map((c) => `crm_id:${c}`)].sort(),
    );
    expect((await getJson(userPath(`crm_id:${crm[5]}`, 'metadata'))).status).toBe(404);
  });

  it('a profile tells which of more keys than SQLite binds it does not hold yet', async () => {
    const anon = uniq('many-anon');
    await sendBatch(writeKey, [{ type: 'track', event: 'One', anonymousId: anon }]);
    const profileId = await waitForEvents(`anonymous_id:${anon}`, 1, 8_000);
    const keys = [...Array.from({ length: 150 }, (_, i) => `crm_id:${uniq(`k${i}`)}`), `anonymous_id:${anon}`];
    const missing = await runInDurableObject(profileObject(profileId), (_i, state) =>
      new ProfileStore(state.storage.sql).missing(keys),
    );
    expect(missing).toEqual(keys.slice(0, 150));
  });

  it('a profile full of one kind takes an event bringing 40 more without running out of attempts', async () => {
    const s = defaultSettings();
    await putSettings({ ...s, identifiers: { ...s.identifiers, storm_id: { priority: 500, limit: 40 } } });
    const anon = uniq('full-anon');
    const first = Array.from({ length: 40 }, (_, i) => uniq(`st${i}`));
    const more = Array.from({ length: 40 }, (_, i) => uniq(`more${i}`));
    const track = (values: string[]) => ({
      type: 'track',
      event: 'Storm',
      anonymousId: anon,
      context: { externalIds: externalIds('storm_id', values) },
    });
    await sendBatch(writeKey, [track(first)]);
    const profileId = await waitForEvents(`anonymous_id:${anon}`, 1, 8_000);
    // The profile already holds 40 storm ids: each of the 40 new ones is a conflict to drop.
    await sendBatch(writeKey, [track(more)]);
    expect(await waitForEvents(`anonymous_id:${anon}`, 2, 8_000)).toBe(profileId);
    const held = await ids(`anonymous_id:${anon}`);
    expect(held.filter((k) => k.startsWith('storm_id:')).sort()).toEqual(first.map((v) => `storm_id:${v}`).sort());
    await putSettings(defaultSettings());
  });
});
