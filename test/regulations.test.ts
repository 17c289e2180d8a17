import { describe, expect, it } from 'vitest';
import { lookupKeys } from '../src/identity/index-do';
import { liveTap } from '../src/ingest/live-tap';
import { forwardDeletion } from '../src/privacy/forward';
import { createRegulation, findRegulation, saveProgress } from '../src/privacy/regulation-store';
import { enqueueRegulation } from '../src/privacy/runner';
import { profileStub } from '../src/profiles/protocol';
import { consumeDirectly } from './identity-model';
import './settle';
import {
  ADMIN,
  basic,
  env,
  eventually,
  ingestMessage,
  makeDestination,
  makeSource,
  post,
  SELF,
  uniq,
} from './kit/workers';

type RegulationView = { overallStatus: string; stages: { name: string; status: string; done?: number }[] };

async function regulate(body: Record<string, unknown>): Promise<string> {
  const res = await post('/api/regulations', body, ADMIN);
  expect(res.status).toBe(201);
  return (await res.json<{ data: { regulateId: string } }>()).data.regulateId;
}

async function finished(id: string): Promise<RegulationView> {
  return eventually(async () => {
    const res = await SELF.fetch(`http://x/api/regulations/${id}`, { headers: ADMIN });
    const reg = (await res.json<{ data: { regulation: RegulationView } }>()).data.regulation;
    return ['FINISHED', 'FAILED', 'PARTIAL_SUCCESS'].includes(reg.overallStatus) ? reg : undefined;
  });
}

/** Sends a person's events through the Tracking API and waits until their profile holds them. */
async function person(writeKey: string, marker: string) {
  const ids = { userId: uniq('u'), anonymousId: uniq('a'), email: `${marker}@example.com` };
  const auth = { authorization: basic(writeKey) };
  expect((await post('/v1/identify', { ...ids, traits: { email: ids.email, note: marker } }, auth)).status).toBe(200);
  // A second anonymous id joins the profile only through the user id: suppression must cover it.
  const other = uniq('a2');
  expect(
    (await post('/v1/track', { userId: ids.userId, anonymousId: other, event: 'Bought', properties: { marker } }, auth))
      .status,
  ).toBe(200);
  const key = `user_id:${ids.userId}`;
  const profileId = await eventually(async () => {
    const owners = await lookupKeys(env, [key, `anonymous_id:${other}`]);
    if (!owners[key] || !owners[`anonymous_id:${other}`]) return undefined;
    const read = await profileStub(env, owners[key]).read({ messageIds: true });
    return read.status === 'live' && (read.messageIds?.length ?? 0) >= 2 ? owners[key] : undefined;
  });
  return { ...ids, other, profileId };
}

const debuggerText = async (sourceId: string) => JSON.stringify(await liveTap(env, sourceId).list());

describe('regulations', () => {
  it('validates the request (types, ≤ 5000 subjects) and needs privacy:write', async () => {
    const bad = await post(
      '/api/regulations',
      { regulationType: 'NUKE', subjectType: 'USER_ID', subjectIds: ['x'] },
      ADMIN,
    );
    expect(bad.status).toBe(400);
    const many = Array.from({ length: 5001 }, (_, i) => `u${i}`);
    expect(
      (
        await post(
          '/api/regulations',
          { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: many },
          ADMIN,
        )
      ).status,
    ).toBe(400);
    expect(
      (await post('/api/regulations', { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: ['x'] }))
        .status,
    ).toBe(401);
    const missing = await SELF.fetch('http://x/api/regulations/01ARZ3NDEKTSV4RRFFQ69G5FAV', { headers: ADMIN });
    expect(missing.status).toBe(404);
  });

  it('SUPPRESS_WITH_DELETE_INTERNAL erases every store and drops the person at ingest, by any identifier', async () => {
    const source = await makeSource('regulated');
    const marker = uniq('mark');
    const p = await person(source.writeKey, marker);
    // Dead letters that carry the person's events.
    await env.DB.prepare(
      `INSERT INTO ingest_failures (message_id, source_id, body, attempts, failed_at) VALUES (?, ?, ?, 1, ?)`,
    )
      .bind(
        uniq('if'),
        source.id,
        JSON.stringify({ sourceId: source.id, event: { userId: p.userId, properties: { marker } } }),
        new Date().toISOString(),
      )
      .run();
    await env.DB.prepare(
      `INSERT INTO delivery_failures (destination_id, message_id, event_type, event, error, attempts, first_attempt_at, failed_at)
       VALUES ('d1', ?, 'track', ?, 'x', 1, ?, ?)`,
    )
      .bind(
        uniq('df'),
        JSON.stringify({ anonymousId: p.other, properties: { marker } }),
        new Date().toISOString(),
        new Date().toISOString(),
      )
      .run();
    await eventually(async () => ((await debuggerText(source.id)).includes(marker) ? true : undefined));
    await eventually(async () =>
      (await env.DB.prepare('SELECT id FROM profile_directory WHERE id = ?').bind(p.profileId).first())
        ? true
        : undefined,
    );

    // Named by email only: the user id and both anonymous ids are found through the profile.
    const id = await regulate({
      regulationType: 'SUPPRESS_WITH_DELETE_INTERNAL',
      subjectType: 'EMAIL',
      subjectIds: [p.email.toUpperCase()],
    });
    const reg = await finished(id);
    expect(reg.overallStatus).toBe('FINISHED');
    expect(reg.stages.map((s) => `${s.name}:${s.status}`)).toEqual([
      'resolve:FINISHED',
      'suppress:FINISHED',
      'profiles:FINISHED',
      'identity:FINISHED',
      'd1:FINISHED',
      'debugger:FINISHED',
      'archive:FINISHED',
    ]);

    expect(await profileStub(env, p.profileId).read({ traits: true })).toEqual({ status: 'missing' });
    const keys = [
      `user_id:${p.userId}`,
      `anonymous_id:${p.anonymousId}`,
      `anonymous_id:${p.other}`,
      `email:${p.email}`,
    ];
    expect(await lookupKeys(env, keys)).toEqual({});
    const d1Text = async () => {
      const out: unknown[] = [];
      for (const t of ['profile_directory', 'ingest_failures', 'delivery_failures', 'audience_members']) {
        out.push((await env.DB.prepare(`SELECT * FROM ${t}`).all()).results);
      }
      return JSON.stringify(out);
    };
    expect(await d1Text()).not.toContain(marker);
    expect(await d1Text()).not.toContain(p.profileId);
    expect(await debuggerText(source.id)).not.toContain(marker);

    // Suppressed by an identifier the request never named: answered 200, stored nowhere.
    const auth = { authorization: basic(source.writeKey) };
    const later = uniq('later');
    const res = await post('/v1/track', { anonymousId: p.other, event: 'Again', properties: { marker: later } }, auth);
    expect(res.status).toBe(200);
    const control = uniq('control');
    await post('/v1/track', { anonymousId: uniq('someone'), event: 'Other', properties: { marker: control } }, auth);
    await eventually(async () => ((await debuggerText(source.id)).includes(control) ? true : undefined));
    expect(await debuggerText(source.id)).not.toContain(later);
    expect(await lookupKeys(env, [`anonymous_id:${p.other}`])).toEqual({});
    const supp = await SELF.fetch('http://x/api/suppressions', { headers: ADMIN });
    const body = await supp.json<{
      data: { suppressions: { regulateId: string; identifiers: number }[]; droppedEvents: { events: number }[] };
    }>();
    expect(body.data.suppressions.find((s) => s.regulateId === id)?.identifiers).toBeGreaterThanOrEqual(4);
    await eventually(async () => {
      const r = await (await SELF.fetch('http://x/api/suppressions', { headers: ADMIN })).json<typeof body>();
      return r.data.droppedEvents.some((d) => d.events >= 1) ? true : undefined;
    });

    // The regulation is in the audit log; the resolved identifiers are not kept on it.
    const audit = await env.DB.prepare("SELECT action FROM audit_log WHERE action = 'POST /api/regulations'").all();
    expect(audit.results.length).toBeGreaterThan(0);
    expect((await findRegulation(env.DB, id))?.subjects).toBeNull();

    // UNSUPPRESS by the user id lifts every identifier suppressed with it.
    const un = await finished(
      await regulate({ regulationType: 'UNSUPPRESS', subjectType: 'USER_ID', subjectIds: [p.userId] }),
    );
    expect(un.overallStatus).toBe('FINISHED');
    expect(un.stages[0].done).toBeGreaterThanOrEqual(4);
    const back = uniq('back');
    await eventually(async () => {
      await post('/v1/track', { anonymousId: p.other, event: 'Back', properties: { marker: back } }, auth);
      return (await debuggerText(source.id)).includes(back) ? true : undefined;
    });
  });

  it('SUPPRESS_ONLY keeps the profile but drops its events already in the ingest queue', async () => {
    const source = await makeSource('suppress only');
    const p = await person(source.writeKey, uniq('supp'));
    const reg = await finished(
      await regulate({ regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: [p.userId] }),
    );
    expect(reg.stages.map((s) => s.name)).toEqual(['resolve', 'suppress']);
    const queued = uniq('queued');
    // As if it had been accepted before the suppression: straight to the ingest consumer.
    const left = await consumeDirectly([
      ingestMessage(
        { type: 'track', event: 'Late', anonymousId: p.anonymousId },
        { messageId: queued, sourceId: source.id },
      ),
    ]);
    expect(left).toEqual([]); // acked
    const read = await profileStub(env, p.profileId).read({ messageIds: true, traits: true });
    expect(read.status).toBe('live');
    expect(read.status === 'live' && read.messageIds).not.toContain(queued);
  });

  it('an index shard killed midway through its rewrite restores the parked entries when it starts', async () => {
    const id = env.IDENTITY.idFromName(uniq('shard'));
    const parked = `_tessera/rewrite/identity/${id.toString()}.json`;
    // What `rewriteFromScratch` leaves when the object dies between deleteAll() and the write-back.
    await env.ARCHIVE.put(parked, JSON.stringify([{ key: 'email:kept@example.com', profile: 'use_1', at: 1 }]));
    expect(await env.IDENTITY.get(id).entries()).toEqual({ 'email:kept@example.com': 'use_1' });
    expect(await env.ARCHIVE.head(parked)).toBeNull();
  });

  it('a run killed midway resumes from its stored progress', async () => {
    const source = await makeSource('resumed');
    const p = await person(source.writeKey, uniq('resume'));
    let reg = await createRegulation(
      env.DB,
      { regulationType: 'DELETE_INTERNAL', subjectType: 'USER_ID', subjectIds: [p.userId] },
      'test',
    );
    // As a worker that died while resolving would leave it: the stage RUNNING, nothing after it done.
    reg.stages[0] = { ...reg.stages[0], status: 'RUNNING' };
    reg = await saveProgress(env.DB, reg);
    expect(reg.status).toBe('RUNNING');
    await enqueueRegulation(env, reg.id); // the queue's redelivery
    expect((await finished(reg.id)).overallStatus).toBe('FINISHED');
    expect(await profileStub(env, p.profileId).read({ traits: true })).toEqual({ status: 'missing' });
    expect(await lookupKeys(env, [`user_id:${p.userId}`])).toEqual({});
  });

  it('forwards a deletion to destinations with a deletion API, in their documented format', async () => {
    const braze = await makeDestination({
      type: 'braze',
      name: 'Braze',
      sourceIds: [],
      settings: { apiKey: 'braze-key', restEndpoint: 'https://rest.iad-01.braze.com' },
    });
    await makeDestination({
      type: 'webhook',
      name: 'Hook',
      sourceIds: [],
      settings: { url: 'https://hooks.example.com/x' },
    });
    const seen: { url: string; method: string; auth: string | null; body: string }[] = [];
    const fake: typeof fetch = async (input, init) => {
      seen.push({
        url: String(input),
        method: init?.method ?? 'GET',
        auth: new Headers(init?.headers).get('authorization'),
        body: String(init?.body),
      });
      return new Response('{"deleted":1,"message":"success"}', { status: 201 });
    };
    const out = await forwardDeletion(env, { profiles: [], keys: ['user_id:u-del', 'anonymous_id:a-del'] }, fake);
    expect(out.status).toBe('FINISHED');
    expect(out.destinations.find((d) => d.destinationId === braze.id)).toMatchObject({ status: 'SENT', requests: 1 });
    expect(out.destinations.find((d) => d.type === 'webhook')?.status).toBe('UNSUPPORTED');
    expect(seen).toEqual([
      {
        url: 'https://rest.iad-01.braze.com/users/delete',
        method: 'POST',
        auth: 'Bearer braze-key',
        body: '{"external_ids":["u-del"]}',
      },
    ]);
    const failing: typeof fetch = async () => new Response('nope', { status: 401 });
    expect((await forwardDeletion(env, { profiles: [], keys: ['user_id:u-del'] }, failing)).status).toBe('FAILED');
  });
});
