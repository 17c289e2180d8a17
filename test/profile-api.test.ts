import { beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../src/identity/settings';
import type { EnrichedEvent } from '../src/ingest/spec';
import { consumeDirectly } from './identity-model';
import { ADMIN, getJson, makeSource, SELF, uniq, userPath } from './kit/workers';

const basicToken = (token: string) => ({ authorization: `Basic ${btoa(`${token}:`)}` });
const start = Date.now() - 3_600_000;
const at = (i: number) => new Date(start + i * 60_000).toISOString();

function event(e: Record<string, unknown>, i: number): EnrichedEvent {
  return {
    messageId: uniq('m'),
    timestamp: at(i),
    receivedAt: at(i),
    originalTimestamp: at(i),
    context: { library: { name: 'test' } },
    ...e,
  } as unknown as EnrichedEvent;
}

describe('Segment Profile API', () => {
  const user = uniq('api-user');
  const anon = uniq('api-anon');
  const group = uniq('api-group');
  let sourceId: string;
  let profileId: string;

  beforeAll(async () => {
    sourceId = (await makeSource('profile api')).id;
    const traits = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`t${String(i).padStart(2, '0')}`, i]));
    const events = [
      event({ type: 'identify', userId: user, anonymousId: anon, traits: { ...traits, email: 'API@x.io' } }, 0),
      ...Array.from({ length: 12 }, (_, i) =>
        event({ type: 'track', event: i % 2 ? 'Odd' : 'Even', userId: user, properties: { i } }, i + 1),
      ),
      event({ type: 'group', userId: user, groupId: group, traits: { name: 'Group Inc' } }, 20),
    ];
    expect(await consumeDirectly(events.map((e) => ({ sourceId, event: e })))).toEqual([]);
    profileId = (await getJson<{ data: { related: { users: string } }[] }>(userPath(`user_id:${user}`, 'events'))).body
      .data[0].related.users;
  });

  it('answers traits like Segment: 10 by default, include, verbose, cursor paging, class', async () => {
    const first = await getJson<{
      traits: Record<string, unknown>;
      cursor: { has_more: boolean; next: string; limit: number };
    }>(userPath(`user_id:${user}`, 'traits'));
    expect(first.status).toBe(200);
    expect(Object.keys(first.body.traits)).toHaveLength(10);
    expect(first.body.cursor).toMatchObject({ has_more: true, next: 't08', limit: 10 });
    const rest = await getJson<{ traits: Record<string, unknown>; cursor: { has_more: boolean } }>(
      userPath(`user_id:${user}`, 'traits', `?next=${first.body.cursor.next}`),
    );
    expect(Object.keys(rest.body.traits)).toEqual(['t09', 't10', 't11', 't12', 't13', 't14']);
    expect(rest.body.cursor.has_more).toBe(false);
    const some = await getJson<{ traits: Record<string, unknown> }>(
      userPath(`email:api@x.io`, 'traits', '?include=t01,email&verbose=true'),
    );
    expect(some.body.traits).toEqual({
      email: { value: 'API@x.io', source_id: sourceId, updated_at: at(0) },
      t01: { value: 1, source_id: sourceId, updated_at: at(0) },
    });
    const audiences = await getJson<{ traits: Record<string, unknown> }>(
      userPath(`user_id:${user}`, 'traits', '?class=audience'),
    );
    expect(audiences.body.traits).toEqual({});
  });

  it('lists external ids, events (filters, sort, paging), metadata and links', async () => {
    const ext = await getJson<{ data: Record<string, unknown>[] }>(userPath(`anonymous_id:${anon}`, 'external_ids'));
    expect(ext.body.data.map((d) => `${d.type}:${d.id}`).sort()).toEqual(
      [`anonymous_id:${anon}`, 'email:api@x.io', `user_id:${user}`].sort(),
    );
    // Segment's documented fields by default; verbose adds the first message.
    expect(Object.keys(ext.body.data[0]).sort()).toEqual([
      'collection',
      'created_at',
      'encoding',
      'id',
      'source_id',
      'type',
    ]);
    const verbose = await getJson<{ data: Record<string, unknown>[] }>(
      userPath(`anonymous_id:${anon}`, 'external_ids', '?verbose=true&include=anonymous_id'),
    );
    expect(verbose.body.data).toEqual([
      {
        id: anon,
        type: 'anonymous_id',
        source_id: sourceId,
        collection: 'users',
        created_at: expect.any(String),
        encoding: 'none',
        first_message_id: expect.any(String),
      },
    ]);

    type Page = {
      data: { event?: string; type: string; timestamp: string }[];
      cursor: { has_more: boolean; next: string };
    };
    const page1 = await getJson<Page>(userPath(`user_id:${user}`, 'events', '?limit=5'));
    expect(page1.body.data.map((e) => e.type)).toEqual(['group', 'track', 'track', 'track', 'track']);
    expect(page1.body.cursor.has_more).toBe(true);
    const all: string[] = page1.body.data.map((e) => e.timestamp);
    let next = page1.body.cursor.next;
    while (next) {
      const p = await getJson<Page>(userPath(`user_id:${user}`, 'events', `?limit=5&next=${encodeURIComponent(next)}`));
      all.push(...p.body.data.map((e) => e.timestamp));
      next = p.body.cursor.has_more ? p.body.cursor.next : '';
    }
    expect(all).toHaveLength(14);
    expect([...all].sort().reverse()).toEqual(all);
    const odd = await getJson<Page>(
      userPath(`user_id:${user}`, 'events', `?include=Odd&sort=asc&limit=100&start=${at(3)}`),
    );
    expect(odd.body.data.map((e) => e.event)).toEqual(['Odd', 'Odd', 'Odd', 'Odd', 'Odd']);
    expect(odd.body.data[0].timestamp).toBe(at(4));

    const meta = await getJson<{ metadata: Record<string, unknown> }>(userPath(profileId, 'metadata'));
    expect(meta.body.metadata).toMatchObject({ first_source_id: sourceId, last_source_id: sourceId, expires_at: null });
    const links = await getJson<{ data: unknown[] }>(userPath(`segment_id:${profileId}`, 'links'));
    expect(links.body.data).toMatchObject([
      { to_collection: 'accounts', external_ids: [{ id: group, type: 'group_id' }] },
    ]);
    const account = await getJson<{ traits: unknown }>(
      `/v1/spaces/sp_123/collections/accounts/profiles/group_id:${group}/traits`,
    );
    expect(account.body.traits).toEqual({ name: 'Group Inc' });
  });

  it('authenticates with the token as Basic username or Bearer, and refuses without', async () => {
    expect((await getJson(userPath(`user_id:${user}`, 'metadata'), basicToken('test-admin-token'))).status).toBe(200);
    const none = await getJson(userPath(`user_id:${user}`, 'metadata'), {});
    expect(none).toMatchObject({ status: 401, body: { error: { code: 'authentication_error' } } });
    const basic = await getJson<{ error: { code: string; message: string } }>(
      userPath(`user_id:${user}`, 'metadata'),
      basicToken('wrong'),
    );
    expect(basic.status).toBe(401);
    expect(basic.body.error).toEqual({
      code: 'authentication_error',
      message: expect.stringMatching(/Basic username/),
    });
    const bearer = await getJson<{ error: { code: string; message: string } }>(
      userPath(`user_id:${user}`, 'metadata'),
      {
        authorization: 'Bearer wrong',
      },
    );
    expect(bearer.body.error).toEqual({
      code: 'authentication_error',
      message: 'The Bearer access token is not valid.',
    });
  });

  it('answers every request with a Request-Id header, errors included', async () => {
    const seen = new Set<string>();
    for (const [path, headers, status] of [
      [userPath(`user_id:${user}`, 'traits'), ADMIN, 200],
      [userPath(`user_id:${user}`, 'traits'), basicToken('wrong'), 401],
      [userPath(`user_id:${uniq('nobody')}`, 'traits'), ADMIN, 404],
      [userPath(`user_id:${user}`, 'events', '?sort=sideways'), ADMIN, 400],
      ['/v1/spaces/default/no/such/route', ADMIN, 404],
    ] as const) {
      const res = await SELF.fetch(`http://tessera.test${path}`, { headers });
      expect(res.status, path).toBe(status);
      const id = res.headers.get('request-id');
      expect(id, path).toMatch(/^[\w-]{8,}$/);
      seen.add(id ?? '');
    }
    expect(seen.size).toBe(5);
  });

  it('takes include and exclude lists of any length (SQLite binds at most 100 parameters)', async () => {
    const names = (n: number, real: string) => [...Array.from({ length: n - 1 }, (_, i) => `Nope ${i}`), real];
    const q = (list: string[]) => encodeURIComponent(list.join(','));
    type Page = { data: { event?: string }[] };
    const included = await getJson<Page>(
      userPath(`user_id:${user}`, 'events', `?limit=100&include=${q(names(150, 'Odd'))}`),
    );
    expect(included.status).toBe(200);
    expect(included.body.data.map((e) => e.event)).toEqual(Array(6).fill('Odd'));
    const excluded = await getJson<Page>(
      userPath(`user_id:${user}`, 'events', `?limit=100&exclude=${q(names(150, 'Odd'))}`),
    );
    expect(excluded.status).toBe(200);
    expect(excluded.body.data.filter((e) => e.event === 'Odd')).toEqual([]);
    expect(excluded.body.data).toHaveLength(8);
    const traits = await getJson<{ traits: Record<string, unknown> }>(
      userPath(`user_id:${user}`, 'traits', `?limit=200&include=${q(names(150, 't03'))}`),
    );
    expect(traits).toEqual({ status: 200, body: expect.objectContaining({ traits: { t03: 3 } }) });
  });

  it('answers 404 not_found and 400 validation_error as Segment does', async () => {
    expect(await getJson(userPath(`user_id:${uniq('nobody')}`, 'traits'))).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'Profile was not found.' } },
    });
    expect((await getJson(userPath('not-an-id', 'traits'))).status).toBe(404);
    expect((await getJson(`/v1/spaces/default/collections/accounts/profiles/${profileId}/traits`)).status).toBe(404);
    for (const [path, query] of [
      ['traits', '?limit=0'],
      ['traits', '?limit=201'],
      ['traits', '?class=bogus'],
      ['events', '?sort=sideways'],
      ['events', '?start=yesterday'],
      ['events', '?next=%25%25'],
      ['external_ids', '?limit=abc'],
    ]) {
      const r = await getJson<{ error: { code: string; message: string } }>(userPath(`user_id:${user}`, path, query));
      expect(r.status, `${path}${query}`).toBe(400);
      expect(r.body.error.code).toBe('validation_error');
    }
    const coll = await getJson(`/v1/spaces/default/collections/people/profiles/user_id:${user}/traits`);
    expect(coll).toMatchObject({ status: 400, body: { error: { code: 'validation_error' } } });
  });
});

describe('/api/profiles and /api/identity/settings', () => {
  it('searches the directory by identifier and by trait, and pages', async () => {
    const sourceId = (await makeSource()).id;
    const tag = uniq('dir').toLowerCase();
    const events = Array.from({ length: 3 }, (_, i) =>
      event({ type: 'identify', userId: `${tag}-u${i}`, traits: { company: `${tag} corp`, n: i } }, i),
    );
    expect(await consumeDirectly(events.map((e) => ({ sourceId, event: e })))).toEqual([]);
    type List = {
      data: { id: string; identifiers: string[]; traits: Record<string, unknown> }[];
      cursor: string | null;
    };
    const byId = await getJson<List>(`/api/profiles?q=${tag}-u1`);
    expect(byId.body.data.map((d) => d.identifiers)).toEqual([[`user_id:${tag}-u1`]]);
    const byTrait = await getJson<List>(`/api/profiles?q=${encodeURIComponent(`${tag} CORP`)}&limit=2`);
    expect(byTrait.body.data).toHaveLength(2);
    const more = await getJson<List>(
      `/api/profiles?q=${encodeURIComponent(`${tag} corp`)}&limit=2&cursor=${byTrait.body.cursor}`,
    );
    expect(more.body.data).toHaveLength(1);
    expect(new Set([...byTrait.body.data, ...more.body.data].map((d) => d.id)).size).toBe(3);
    const one = await getJson<{ id: string; traits: Record<string, unknown>; recentEvents: unknown[] }>(
      `/api/profiles/user_id:${tag}-u2`,
    );
    expect(one.body).toMatchObject({ traits: { company: `${tag} corp`, n: 2 }, recentEvents: [{ type: 'identify' }] });
    expect((await getJson('/api/profiles?limit=0')).status).toBe(400);
    expect((await getJson('/api/profiles?cursor=zzz')).status).toBe(400);
    expect((await getJson('/api/profiles/user_id:nobody-at-all')).status).toBe(404);
    expect((await getJson('/api/profiles', {})).status).toBe(401);
  });

  it('reads and validates identity settings', async () => {
    const got = await getJson('/api/identity/settings');
    expect(got).toEqual({ status: 200, body: defaultSettings() });
    const put = (body: unknown, headers = ADMIN) =>
      SELF.fetch('http://tessera.test/api/identity/settings', { method: 'PUT', headers, body: JSON.stringify(body) });
    const custom = {
      ...defaultSettings(),
      identifiers: { ...defaultSettings().identifiers, crm_id: { priority: 50, limit: 1 } },
    };
    expect((await put(custom)).status).toBe(200);
    expect((await getJson('/api/identity/settings')).body).toEqual(custom);
    const dup = await put({
      ...custom,
      identifiers: { user_id: { priority: 1, limit: 1 }, email: { priority: 1, limit: 2 } },
    });
    expect(dup.status).toBe(400);
    expect(await dup.json()).toMatchObject({
      error: { code: 'invalid_request', message: expect.stringContaining('already used by user_id') },
    });
    const regex = await put({ ...custom, blockedPatterns: ['[unclosed'] });
    expect(await regex.json()).toMatchObject({
      error: { message: expect.stringContaining('valid regular expression') },
    });
    expect((await put({ ...custom, defaultLimit: 0 })).status).toBe(400);
    expect(
      (await put({ ...custom }, { authorization: 'Bearer nope', 'content-type': 'application/json' })).status,
    ).toBe(401);
    expect((await put(defaultSettings())).status).toBe(200);
  });
});
