// Audience conditions on PII traits, which profiles keep sealed (PII_KEY is set in every runtime
// test): the literal is sealed with an equality tag when the definition is saved, and evaluation —
// in the apply, in the back-fill and in the preview — compares tags, never a clear email.
import { beforeAll, describe, expect, it } from 'vitest';
import type { EnrichedEvent } from '../src/ingest/spec';
import { consumeDirectly } from './identity-model';
import { ADMIN, define, env, eventually, getJson, makeSource, post, uniq } from './kit/workers';

const now = () => new Date().toISOString();
const identify = (userId: string, traits: Record<string, unknown>): EnrichedEvent =>
  ({
    type: 'identify',
    userId,
    messageId: uniq('m'),
    timestamp: now(),
    receivedAt: now(),
    originalTimestamp: now(),
    traits,
    context: { library: { name: 'test' } },
  }) as unknown as EnrichedEvent;

let sourceId: string;
async function person(traits: Record<string, unknown>): Promise<string> {
  const user = uniq('pa');
  expect(await consumeDirectly([{ sourceId, event: identify(user, traits) }])).toEqual([]);
  return (await getJson<{ id: string }>(`/api/profiles/user_id:${user}`)).body.id;
}

async function members(key: string, expected: number): Promise<string[]> {
  return eventually(async () => {
    const r = await getJson<{ data: { profileId: string }[] }>(`/api/audiences/${key}/members`);
    return r.body.data.length >= expected ? r.body.data.map((m) => m.profileId) : undefined;
  });
}

async function token(scopes: string[]): Promise<Record<string, string>> {
  const res = await post('/api/tokens', { name: `pa ${scopes.join(' ')}`, scopes }, ADMIN);
  return { authorization: `Bearer ${(await res.json<{ token: string }>()).token}` };
}

describe('audiences on sealed PII traits', () => {
  const email = `${uniq('jane')}@example.com`;
  let jane: string;
  let other: string;
  beforeAll(async () => {
    sourceId = (await makeSource('pii audiences')).id;
    jane = await person({ email, plan: 'pro' });
    other = await person({ email: `${uniq('joe')}@example.com`, plan: 'pro' });
  });

  it('equality, in and != match by tag in the back-fill; the definition keeps no clear email', async () => {
    // Written as a person would type it: other case, spaces. Sealed email traits compare normalised.
    await define('audiences', {
      key: 'pa_is_jane',
      definition: { trait: 'email', op: '=', value: ` ${email.toUpperCase()}` },
    });
    await define('audiences', {
      key: 'pa_in',
      definition: {
        and: [
          { trait: 'email', op: 'in', value: ['nobody@example.com', email] },
          { trait: 'plan', op: '=', value: 'pro' },
        ],
      },
    });
    await define('audiences', { key: 'pa_not_jane', definition: { trait: 'email', op: '!=', value: email } });
    expect(await members('pa_is_jane', 1)).toEqual([jane]);
    expect(await members('pa_in', 1)).toEqual([jane]);
    const notJane = await members('pa_not_jane', 1);
    expect(notJane).toContain(other);
    expect(notJane).not.toContain(jane);

    const rows = await env.DB.prepare("SELECT body FROM engage_definitions WHERE key LIKE 'pa_%'").all();
    expect(JSON.stringify(rows.results)).not.toContain(email);
    expect(JSON.stringify(rows.results).toLowerCase()).not.toContain(email.toLowerCase());
    expect(JSON.stringify(rows.results)).toContain('pii1.');
    // Nor the append-only audit log: requests and before/after states have the literal masked.
    const audit = await env.DB.prepare('SELECT changes FROM audit_log').all();
    expect(JSON.stringify(audit.results)).toContain('pa_is_jane');
    expect(JSON.stringify(audit.results).toLowerCase()).not.toContain(email.toLowerCase());
  });

  it('a profile written after the definition enters in its apply', async () => {
    const later = `${uniq('late')}@example.com`;
    await define('audiences', { key: 'pa_later', definition: { trait: 'email', op: '=', value: later } });
    await eventually(async () =>
      (await getJson<{ status: string }>('/api/audiences/pa_later')).body.status === 'ready' ? true : undefined,
    );
    const id = await person({ email: later });
    expect(await members('pa_later', 1)).toEqual([id]);
  });

  it('the API opens the literal for pii:read only, and audits the reads that open one', async () => {
    const audits = async (target: string) =>
      (
        await env.DB.prepare('SELECT action, changes FROM audit_log WHERE target = ? ORDER BY seq')
          .bind(target)
          .all<{ action: string; changes: string }>()
      ).results;
    const owner = await getJson<{ id: string; definition: { value: unknown } }>('/api/audiences/pa_not_jane');
    expect(owner.body.definition.value).toBe(email);
    const one = await audits('audience pa_not_jane');
    expect(one).toEqual([
      { action: 'pii:read GET /api/audiences/:key', changes: JSON.stringify({ audiences: [owner.body.id] }) },
    ]);
    const reader = await getJson<{ definition: { value: unknown } }>(
      '/api/audiences/pa_not_jane',
      await token(['engage:read']),
    );
    expect(reader.status).toBe(200);
    expect(String(reader.body.definition.value)).toMatch(/^pii1\./);
    expect(await audits('audience pa_not_jane')).toEqual(one); // nothing opened, nothing audited
    // The console polls an audience while its back-fill runs: one entry a minute, not one a poll.
    expect((await getJson('/api/audiences/pa_not_jane')).status).toBe(200);
    expect(await audits('audience pa_not_jane')).toEqual(one);

    // The list opens every sealed literal: one entry naming those audiences, not the others.
    await define('audiences', { key: 'pa_plan', definition: { trait: 'plan', op: '=', value: 'pro' } });
    const list = await getJson<{ data: { id: string; key: string }[] }>('/api/audiences');
    const listed = await audits('audiences');
    expect(listed.length).toBe(1);
    const named: string[] = JSON.parse(listed[0].changes).audiences;
    const ids = (keys: string[]) => list.body.data.filter((a) => keys.includes(a.key)).map((a) => a.id);
    expect(named).toEqual(expect.arrayContaining(ids(['pa_is_jane', 'pa_in', 'pa_not_jane'])));
    expect(ids(['pa_plan'])).toHaveLength(1);
    expect(named).not.toContain(ids(['pa_plan'])[0]);
    expect(JSON.stringify([...one, ...listed]).toLowerCase()).not.toContain(email.toLowerCase());
  });

  it('operators a tag cannot answer are refused with the reason', async () => {
    for (const [op, value, trait] of [
      ['contains', 'example.com', 'email'],
      ['starts_with', 'jane', 'email'],
      ['exists', undefined, 'address.city'],
    ] as const) {
      const res = await post(
        '/api/audiences',
        { key: uniq('pa_bad').replace(/-/g, '_'), name: 'x', definition: { trait, op, value } },
        ADMIN,
      );
      expect(res.status).toBe(400);
      expect((await res.json<{ error: { message: string } }>()).error.message).toMatch(/sealed at rest/);
    }
    // Presence needs no literal and still works.
    const ok = await post(
      '/api/audiences',
      { key: 'pa_has_email', name: 'x', definition: { trait: 'email', op: 'exists' } },
      ADMIN,
    );
    expect(ok.status).toBe(201);
  });

  it('the preview matches sealed traits of example profiles and of the directory', async () => {
    const res = await post(
      '/api/audiences/preview',
      {
        definition: { trait: 'email', op: '=', value: email },
        profiles: [{ traits: { email } }, { traits: { email: 'someone@else.io' } }, { traits: {} }],
      },
      ADMIN,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ matched: 1, sampled: 3, basis: 'provided_profiles' });
    const dir = await post('/api/audiences/preview', { definition: { trait: 'email', op: '=', value: email } }, ADMIN);
    expect(await dir.json()).toMatchObject({ matched: 1, basis: 'profile_directory_traits' });
  });
});
