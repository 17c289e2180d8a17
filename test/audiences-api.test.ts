import { describe, expect, it, vi } from 'vitest';
import { backfillProgress, reportBackfillProgress } from '../src/audiences/backfill';
import { clearDefinitionCache, getDefinitions, REVALIDATE_MS } from '../src/audiences/cache';
import { Audience } from '../src/audiences/definitions';
import { recordMembershipChanges } from '../src/audiences/membership';
import { findBackfill, saveDefinition } from '../src/audiences/store';
import { ADMIN, env, post, SELF } from './kit/workers';

type ErrorBody = { error: { code: string; message: string; details?: { path: string; message: string }[] } };
const get = (path: string, headers: Record<string, string> = ADMIN) => SELF.fetch(`http://x${path}`, { headers });
const put = (path: string, body: unknown) =>
  SELF.fetch(`http://x${path}`, { method: 'PUT', headers: ADMIN, body: JSON.stringify(body) });

const orders = (key = 'orders_30d') => ({
  key,
  name: 'Orders in the last 30 days',
  type: 'count',
  event: 'Order Completed',
  where: 'properties.total > 50',
  within: '30d',
});
const audience = (key: string, definition: unknown, more: Record<string, unknown> = {}) => ({
  key,
  name: key,
  definition,
  ...more,
});

async function created<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
  const res = await post(path, body, ADMIN);
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

describe('admin API: authorisation and malformed input', () => {
  it('answers 401 without a valid token', async () => {
    for (const path of ['/api/audiences', '/api/computed-traits', '/api/audiences/x/members']) {
      const res = await get(path, {});
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const wrong = await post('/api/audiences', audience('a', { event: 'A' }), { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
  });

  it('answers 400 to bodies that are not JSON, and 404 to unknown keys', async () => {
    const res = await post('/api/audiences', '{nope', ADMIN);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
    const missing = await get('/api/audiences/nobody');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

describe('admin API: invalid definitions name the offending node', () => {
  it('reports the path and FQL position', async () => {
    const res = await post(
      '/api/audiences',
      audience('bad', { and: [{ event: 'A' }, { event: 'B', count: { '>=': 'two' } }] }),
      ADMIN,
    );
    expect(res.status).toBe(400);
    const body = await res.json<ErrorBody>();
    expect(body.error.code).toBe('invalid_definition');
    expect(body.error.message).toContain('definition.and[1].count[">="]');
    expect(body.error.details?.[0].path).toBe('definition.and[1].count[">="]');

    const fql = await post('/api/computed-traits', { ...orders('x'), where: 'properties.total >> 5' }, ADMIN);
    expect(fql.status).toBe(400);
    expect((await fql.json<ErrorBody>()).error.message).toMatch(/^where: invalid FQL: .*position 18/);

    const noProp = await post('/api/computed-traits', { ...orders('y'), type: 'sum' }, ADMIN);
    expect((await noProp.json<ErrorBody>()).error.message).toBe(
      'property: a sum trait needs the event property to use',
    );
  });

  it('rejects unknown references and reference cycles', async () => {
    const unknown = await post('/api/audiences', audience('u', { or: [{ computed: 'nope', op: 'exists' }] }), ADMIN);
    expect(unknown.status).toBe(400);
    expect((await unknown.json<ErrorBody>()).error.message).toBe(
      'definition.or[0].computed: unknown computed trait "nope"',
    );

    await created('/api/audiences', audience('cyc_a', { trait: 'plan', op: '=', value: 'pro' }));
    await created('/api/audiences', audience('cyc_b', { not: { audience: 'cyc_a' } }));
    const loop = await put('/api/audiences/cyc_a', audience('cyc_a', { and: [{ audience: 'cyc_b' }] }));
    expect(loop.status).toBe(400);
    expect((await loop.json<ErrorBody>()).error.message).toBe(
      'definition.and[0].audience: reference cycle: cyc_a → cyc_b → cyc_a',
    );
  });

  it('keeps one key namespace for audiences and computed traits', async () => {
    await created('/api/computed-traits', orders('shared_key'));
    const clash = await post('/api/audiences', audience('shared_key', { event: 'A' }), ADMIN);
    expect(clash.status).toBe(409);
    expect(await clash.json()).toMatchObject({ error: { code: 'conflict' } });
    const renamed = await put('/api/computed-traits/shared_key', orders('other_key'));
    expect(renamed.status).toBe(400);
  });
});

describe('admin API: definitions, versions and back-fill status', () => {
  it('creates, lists, edits (new version) and reports back-fill progress', async () => {
    const trait = await created<{ id: string; version: number; status: string }>('/api/computed-traits', orders());
    expect(trait).toMatchObject({ key: 'orders_30d', version: 1, status: 'computing', percent: 0 });
    expect(trait.id).toMatch(/^tra_/);

    const def = {
      and: [
        { computed: 'orders_30d', op: '>=', value: 2 },
        { trait: 'plan', op: 'in', value: ['pro'] },
      ],
    };
    const a = await created<{ id: string }>(
      '/api/audiences',
      audience('loyal', def, { emit: 'track', destinationIds: ['d1'] }),
    );
    expect(a).toMatchObject({
      key: 'loyal',
      emit: 'track',
      destinationIds: ['d1'],
      public: false,
      status: 'computing',
    });

    const list = await (await get('/api/audiences')).json<{ data: { key: string }[] }>();
    expect(list.data.map((d) => d.key)).toContain('loyal');
    const traits = await (await get('/api/computed-traits')).json<{ data: { key: string }[] }>();
    expect(traits.data.map((d) => d.key)).toContain('orders_30d');

    // The work-queue consumer back-fills it: with no profiles yet, it is ready at once.
    await vi.waitUntil(
      async () => (await (await get('/api/audiences/loyal')).json<{ status: string }>()).status === 'ready',
      {
        timeout: 10_000,
      },
    );
    expect(await (await get('/api/audiences/loyal')).json()).toMatchObject({ status: 'ready', percent: 100, size: 0 });

    // Progress arithmetic, on a row of its own so the consumer cannot race it.
    await env.DB.prepare(
      "INSERT INTO engage_backfills (definition_id, version, status, started_at) VALUES (?, 1, 'computing', '2026-01-01')",
    )
      .bind(`${a.id}_probe`)
      .run();
    const progress = async () => backfillProgress(await findBackfill(env.DB, `${a.id}_probe`, 1));
    const page = { definitionId: `${a.id}_probe`, version: 1, processed: 3 };
    expect(await reportBackfillProgress(env.DB, { ...page, total: 6, cursor: 'p3', from: null })).toBe(true);
    expect(await progress()).toEqual({ status: 'computing', percent: 50 });
    // The same page reported twice (a redelivered message) counts once: the cursor moved on.
    expect(await reportBackfillProgress(env.DB, { ...page, total: 6, cursor: 'p3', from: null })).toBe(false);
    expect(await progress()).toEqual({ status: 'computing', percent: 50 });
    expect(await reportBackfillProgress(env.DB, { ...page, cursor: 'p6', from: 'p3' })).toBe(true);
    expect(await progress()).toEqual({ status: 'ready', percent: 100 });

    const edited = await put('/api/audiences/loyal', audience('loyal', { computed: 'orders_30d', op: '>=', value: 3 }));
    expect(edited.status).toBe(200);
    expect(await edited.json()).toMatchObject({ version: 2, status: 'computing', percent: 0 });
    const versions = await env.DB.prepare(
      'SELECT version FROM engage_definition_versions WHERE id = ? ORDER BY version',
    )
      .bind(a.id)
      .all();
    expect(versions.results).toEqual([{ version: 1 }, { version: 2 }]);
  });

  it('caches compiled definitions per isolate, keyed by revision', async () => {
    clearDefinitionCache();
    const t0 = Date.now();
    const first = await getDefinitions(env.DB, { now: t0 });
    expect(await getDefinitions(env.DB, { now: t0 + 1 })).toBe(first);
    // A write from another isolate: this one keeps trusting its cache until it revalidates.
    const probe = Audience.parse(audience('cache_probe', { event: 'Signed Up' }));
    await saveDefinition(env.DB, { kind: 'audience', key: probe.key, name: probe.name, body: probe });
    expect(await getDefinitions(env.DB, { now: t0 + 2 })).toBe(first);
    expect((await getDefinitions(env.DB, { now: t0 + 3, minRevision: first.revision + 1 })).revision).toBe(
      first.revision + 1,
    );
    clearDefinitionCache();
    const next = await getDefinitions(env.DB, { now: t0 + REVALIDATE_MS + 1 });
    expect(next.revision).toBeGreaterThan(first.revision);
    // A write through the API in this isolate is visible at once.
    await created('/api/audiences', audience('cache_probe_2', { event: 'Signed Up' }));
    const after = await getDefinitions(env.DB, { now: t0 + REVALIDATE_MS + 2 });
    expect(after.audiences.map((x) => x.definition.key)).toContain('cache_probe_2');
    expect(next.audiences.map((x) => x.definition.key)).toContain('cache_probe');
    expect(await getDefinitions(env.DB, { now: t0 + REVALIDATE_MS + 3 })).toBe(after);
    await created(
      '/api/audiences',
      audience('big_accounts', { trait: 'seats', op: '>', value: 50 }, { collection: 'accounts' }),
    );
    const accounts = await getDefinitions(env.DB, { collection: 'accounts' });
    expect(accounts.audiences.map((x) => x.definition.key)).toEqual(['big_accounts']);
    const users = await getDefinitions(env.DB, { collection: 'users' });
    expect(users.audiences.map((x) => x.definition.key)).not.toContain('big_accounts');
  });
});

describe('admin API: members, sizes and previews', () => {
  it('pages members and keeps a daily size history', async () => {
    const a = await created<{ id: string }>('/api/audiences', audience('paged', { event: 'A' }));
    const at = Date.parse('2026-02-01T10:00:00Z');
    const enter = ['p1', 'p2', 'p3', 'p4', 'p5'].map((profileId) => ({
      audienceId: a.id,
      profileId,
      member: true,
      at,
    }));
    await recordMembershipChanges(env.DB, enter);
    await recordMembershipChanges(env.DB, [{ audienceId: a.id, profileId: 'p2', member: false, at: at + 1000 }]);

    const page1 = await (await get('/api/audiences/paged/members?limit=2')).json<{
      data: { profileId: string }[];
      next: string;
    }>();
    expect(page1.data.map((m) => m.profileId)).toEqual(['p1', 'p3']);
    const page2 = await (await get(`/api/audiences/paged/members?limit=2&cursor=${page1.next}`)).json<{
      data: { profileId: string }[];
      next: string | null;
    }>();
    expect(page2.data.map((m) => m.profileId)).toEqual(['p4', 'p5']);
    expect(page2.next).toBeNull();
    expect(await (await get('/api/audiences/paged')).json()).toMatchObject({
      size: 4,
      history: [{ day: '2026-02-01', size: 4, entered: 5, exited: 1 }],
    });
  });

  it('applies membership changes arriving out of order by their time, whichever comes first', async () => {
    const a = await created<{ id: string }>('/api/audiences', audience('unordered', { event: 'A' }));
    const t = Date.parse('2026-03-01T10:00:00Z');
    const change = (profileId: string, member: boolean, at: number) => ({ audienceId: a.id, profileId, member, at });
    const members = async () =>
      (await (await get('/api/audiences/unordered/members')).json<{ data: { profileId: string }[] }>()).data
        .map((m) => m.profileId)
        .sort();
    // p1 entered at t and exited at t+1: the exit arrives first, the stale entry after it.
    await recordMembershipChanges(env.DB, [change('p1', false, t + 1000)]);
    await recordMembershipChanges(env.DB, [change('p1', true, t)]);
    // p2 exited at t and entered again at t+1, in that order: a member.
    await recordMembershipChanges(env.DB, [change('p2', false, t)]);
    await recordMembershipChanges(env.DB, [change('p2', true, t + 1000)]);
    // p3 entered at t+1, and an older exit (t) arrives late: still a member.
    await recordMembershipChanges(env.DB, [change('p3', true, t + 1000)]);
    await recordMembershipChanges(env.DB, [change('p3', false, t)]);
    // p4: both in one batch, newest last in time but first in the array.
    await recordMembershipChanges(env.DB, [change('p4', false, t + 1000), change('p4', true, t)]);
    expect(await members()).toEqual(['p2', 'p3']);
    // A redelivered stale entry for p1 still changes nothing.
    await recordMembershipChanges(env.DB, [change('p1', true, t)]);
    expect(await members()).toEqual(['p2', 'p3']);
  });

  it('previews a definition on example profiles and on the profile directory, saying which', async () => {
    const definition = {
      and: [
        { trait: 'plan', op: '=', value: 'pro' },
        { event: 'Order Completed', within: '7d' },
      ],
    };
    const now = new Date().toISOString();
    const profiles = [
      { traits: { plan: 'pro' }, events: [{ event: 'Order Completed', timestamp: now }] },
      { traits: { plan: 'pro' } },
      { traits: { plan: 'free' }, events: [{ event: 'Order Completed', timestamp: now }] },
    ];
    const given = await post('/api/audiences/preview', { definition, profiles }, ADMIN);
    expect(given.status).toBe(200);
    expect(await given.json()).toMatchObject({
      estimate: 1,
      matched: 1,
      sampled: 3,
      basis: 'provided_profiles',
      exact: true,
    });

    const bad = await post('/api/audiences/preview', { definition, profiles: [{ events: [{}] }] }, ADMIN);
    expect((await bad.json<ErrorBody>()).error.message).toMatch(/^profiles\[0\]\.events\[0\]\.timestamp: /);

    const empty = await (await post('/api/audiences/preview', { definition }, ADMIN)).json();
    expect(empty).toMatchObject({ estimate: 0, basis: 'no_profiles' });

    const insert = env.DB.prepare(
      `INSERT INTO profile_directory (id, collection, version, identifiers, traits, search, created_at, updated_at)
       VALUES (?, 'users', 1, '[]', ?, '', ?, ?)`,
    );
    await env.DB.batch(
      ['pro', 'pro', 'free', 'pro'].map((plan, i) => insert.bind(`prof_${i}`, JSON.stringify({ plan }), now, now)),
    );
    const traitsOnly = await (
      await post('/api/audiences/preview', { definition: { trait: 'plan', op: '=', value: 'pro' } }, ADMIN)
    ).json();
    expect(traitsOnly).toMatchObject({ estimate: 3, total: 4, basis: 'profile_directory_traits', exact: true });
    const withEvents = await (await post('/api/audiences/preview', { definition }, ADMIN)).json<{
      caveats: string[];
    }>();
    expect(withEvents).toMatchObject({ estimate: 0, basis: 'profile_directory_traits', exact: false });
    expect(withEvents.caveats.join(' ')).toMatch(/traits only/);
  });
});
