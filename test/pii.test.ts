import { runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { INDEX_SHARDS, indexShard } from '../src/identity/index-do';
import type { EnrichedEvent } from '../src/ingest/spec';
import { ProfileStore } from '../src/profiles/store';
import { consumeDirectly } from './identity-model';
import { ADMIN, env, eventually, getJson, makeSource, SELF, uniq } from './kit/workers';

const now = new Date().toISOString();
const identify = (userId: string, traits: Record<string, unknown>): EnrichedEvent =>
  ({
    type: 'identify',
    userId,
    messageId: uniq('m'),
    timestamp: now,
    receivedAt: now,
    originalTimestamp: now,
    traits,
    context: { library: { name: 'test' }, traits: { email: traits.email } },
  }) as unknown as EnrichedEvent;

async function mint(scopes: string[]): Promise<Record<string, string>> {
  const res = await SELF.fetch('http://tessera.test/api/tokens', {
    method: 'POST',
    headers: ADMIN,
    body: JSON.stringify({ name: `pii ${scopes.join(' ')}`, scopes }),
  });
  expect(res.status).toBe(201);
  const { token } = await res.json<{ token: string }>();
  return { authorization: `Bearer ${token}` };
}

/** Every text value of every table of a Durable Object's SQLite storage. */
async function allText(stub: DurableObjectStub): Promise<string> {
  return runInDurableObject(stub, (_obj, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf%'")
      .toArray();
    return tables.map((t) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${t.name}"`).toArray())).join('\n');
  });
}

describe('PII at rest', () => {
  const user = uniq('pii-user');
  const marker = `${uniq('marker')}@example.com`;
  let profileId: string;

  beforeAll(async () => {
    const sourceId = (await makeSource('pii')).id;
    const e = identify(user, { email: marker, name: 'Marker Person', phone: '+1 555 0100 2233', plan: 'pro' });
    expect(await consumeDirectly([{ sourceId, event: e }])).toEqual([]);
    const found = await getJson<{ id: string }>(`/api/profiles/user_id:${user}`);
    profileId = found.body.id;
  });

  it('the Profile object, the identity index and D1 hold no clear email, name or phone', async () => {
    const profileText = await allText(env.PROFILE.get(env.PROFILE.idFromName(profileId)));
    expect(profileText).toContain(user); // the scan reads real rows
    for (const clear of [marker, 'Marker Person', '555 0100', '+15550100']) expect(profileText).not.toContain(clear);
    const rows = await runInDurableObject(env.PROFILE.get(env.PROFILE.idFromName(profileId)), (_o, state) => ({
      traits: new ProfileStore(state.storage.sql).traitRows(),
      ids: new ProfileStore(state.storage.sql).identifierRows(),
    }));
    const trait = (k: string) => JSON.parse(rows.traits.find((t) => t.key === k)?.value ?? 'null');
    expect(trait('email')).toMatch(/^pii1\.[0-9a-f]{8}\./);
    expect(trait('plan')).toBe('pro'); // not PII: stays searchable and usable as it is
    const email = rows.ids.find((r) => r.key.startsWith('email:'));
    expect(email?.key).toMatch(/^email:bi1\.[A-Za-z0-9_-]{43}$/);
    expect(email?.value).toMatch(/^pii1\./);

    const shards = await Promise.all(Array.from({ length: INDEX_SHARDS }, (_, i) => allText(indexShard(env, i))));
    expect(shards.join('\n')).toContain(user);
    expect(shards.join('\n')).not.toContain(marker);

    const d1 = await env.DB.prepare('SELECT * FROM profile_directory WHERE id = ?').bind(profileId).all();
    expect(d1.results).toHaveLength(1);
    expect(JSON.stringify(d1.results)).not.toContain(marker);
    expect(JSON.stringify(d1.results)).not.toContain('Marker Person');
  });

  it('lookup by email still works: Profile API and directory search', async () => {
    const traits = await getJson<{ traits: Record<string, unknown> }>(
      `/v1/spaces/default/collections/users/profiles/email:${marker.toUpperCase()}/traits`,
    );
    expect(traits.status).toBe(200);
    expect(traits.body.traits).toMatchObject({ email: marker, name: 'Marker Person', plan: 'pro' });
    const ids = await getJson<{ data: { id: string; type: string }[] }>(
      `/v1/spaces/default/collections/users/profiles/email:${marker}/external_ids`,
    );
    expect(ids.body.data).toContainEqual(expect.objectContaining({ type: 'email', id: marker }));
    const search = await getJson<{ data: { id: string; identifiers: string[] }[] }>(
      `/api/profiles?q=${encodeURIComponent(marker)}`,
    );
    expect(search.body.data.map((d) => d.id)).toEqual([profileId]);
    expect(search.body.data[0].identifiers).toContain(`email:${marker}`);
  });

  it('masks PII for a token without pii:read, on every API, and audits only clear reads', async () => {
    const masked = await mint(['profiles:read']);
    const clear = await mint(['profiles:read', 'pii:read']);
    const [local, domain] = marker.split('@');
    const maskedEmail = `${local[0]}***@${domain}`;
    const base = `/v1/spaces/default/collections/users/profiles/user_id:${user}`;

    const traits = await getJson<{ traits: Record<string, unknown> }>(`${base}/traits`, masked);
    expect(traits.body.traits).toMatchObject({ email: maskedEmail, name: 'M***', phone: '***33', plan: 'pro' });
    const ids = await getJson<{ data: { id: string; type: string }[] }>(`${base}/external_ids`, masked);
    expect(ids.body.data.find((d) => d.type === 'email')?.id).toBe(maskedEmail);
    const events = await getJson<{ data: Record<string, unknown>[] }>(`${base}/events`, masked);
    expect(JSON.stringify(events.body)).not.toContain(marker);
    expect(JSON.stringify(events.body)).toContain(maskedEmail);
    const list = await getJson<{ data: { traits: Record<string, unknown>; identifiers: string[] }[] }>(
      `/api/profiles?q=${encodeURIComponent(marker)}`,
      masked,
    );
    expect(list.body.data[0].traits.email).toBe(maskedEmail);
    expect(list.body.data[0].identifiers).toContain(`email:${maskedEmail}`);
    const detail = await getJson(`/api/profiles/user_id:${user}`, masked);
    expect(JSON.stringify(detail.body)).not.toContain(marker);
    expect(JSON.stringify(detail.body)).not.toContain('Marker Person');

    const audited = async () =>
      (
        await env.DB.prepare("SELECT actor_name, action, target FROM audit_log WHERE action LIKE 'pii:read %'").all<{
          actor_name: string;
          action: string;
          target: string;
        }>()
      ).results;
    expect((await audited()).filter((r) => r.actor_name === 'pii profiles:read')).toEqual([]);

    const open = await getJson<{ traits: Record<string, unknown> }>(`${base}/traits`, clear);
    expect(open.body.traits).toMatchObject({ email: marker, name: 'Marker Person' });
    const openList = await getJson<{ data: { traits: Record<string, unknown> }[] }>(
      `/api/profiles?q=${encodeURIComponent(marker)}`,
      clear,
    );
    expect(openList.body.data[0].traits.email).toBe(marker);
    const mine = (await audited()).filter((r) => r.actor_name === 'pii profiles:read pii:read');
    expect(mine.map((r) => r.action)).toEqual([
      'pii:read GET /v1/spaces/:space/collections/:collection/profiles/:id/traits',
      'pii:read GET /api/profiles',
    ]);
    expect((await getJson('/api/audit/verify')).body).toMatchObject({ ok: true });
  });
});

describe('/api/privacy/settings', () => {
  it('lists the default PII keys, changes them, and seals a newly listed key', async () => {
    const got = await getJson<{ piiKeys: string[] }>('/api/privacy/settings');
    expect(got.body.piiKeys).toEqual(['email', 'phone', 'name', 'first_name', 'last_name', 'address', 'birthday']);
    const put = (body: unknown, headers: Record<string, string> = ADMIN) =>
      SELF.fetch('http://tessera.test/api/privacy/settings', { method: 'PUT', headers, body: JSON.stringify(body) });
    expect((await put({ piiKeys: ['has space'] })).status).toBe(400);
    expect((await put({ piiKeys: 'email' })).status).toBe(400);
    const reader = await mint(['profiles:read']);
    expect((await put({ piiKeys: ['email'] }, { ...reader, 'content-type': 'application/json' })).status).toBe(403);
    const keys = [...got.body.piiKeys, 'company'];
    expect((await put({ piiKeys: keys })).status).toBe(200);
    try {
      const user = uniq('pii-company');
      const sourceId = (await makeSource('pii settings')).id;
      expect(await consumeDirectly([{ sourceId, event: identify(user, { company: 'Secret Corp' }) }])).toEqual([]);
      const found = await getJson<{ id: string; traits: Record<string, unknown> }>(`/api/profiles/user_id:${user}`);
      expect(found.body.traits.company).toBe('Secret Corp');
      const text = await allText(env.PROFILE.get(env.PROFILE.idFromName(found.body.id)));
      expect(text).not.toContain('Secret Corp');
    } finally {
      await put({ piiKeys: got.body.piiKeys });
    }
  });
});

describe('the source debugger', () => {
  it('stores PII sealed, shows it to pii:read and masks it for others', async () => {
    const source = await makeSource('pii debugger');
    const email = `${uniq('dbg')}@example.com`;
    const res = await SELF.fetch('http://tessera.test/v1/identify', {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${source.writeKey}:`)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: uniq('dbg-user'), traits: { email, plan: 'pro' } }),
    });
    expect(res.status).toBe(200);
    type Entries = { data: { event: { traits: Record<string, unknown> } }[] };
    const events = `/api/sources/${source.id}/events`;
    const clear = await eventually(async () => {
      const got = (await getJson<Entries>(events)).body;
      return got.data.length ? got : undefined;
    });
    expect(clear.data[0].event.traits).toEqual({ email, plan: 'pro' });
    // The console polls the debugger: its clear reads are audited once a minute, not once a poll.
    expect((await getJson<Entries>(events)).status).toBe(200);
    const audited = await env.DB.prepare('SELECT action, changes FROM audit_log WHERE target = ?')
      .bind(`source ${source.id} debugger`)
      .all<{ action: string; changes: string }>();
    expect(audited.results).toEqual([
      { action: 'pii:read GET /api/sources/:id/events', changes: expect.stringContaining('"entries":') },
    ]);
    const masked = await getJson<Entries>(events, await mint(['sources:read']));
    expect(masked.body.data[0].event.traits).toEqual({ email: `${email[0]}***@example.com`, plan: 'pro' });
    const stored = await allText(env.LIVE_TAP.get(env.LIVE_TAP.idFromName(source.id)));
    expect(stored).toContain('pro');
    expect(stored).not.toContain(email);
  });
});
