// PII outside profiles: the R2 archive and the ingest dead letters keep PII trait values sealed
// with the profiles' keyring (PII_KEY is set in every runtime test); a replay of either opens them
// again, and erasing a subject from the archive still finds their rows.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eraseSubjects } from '../src/archive/erase';
import { consumeIngestDlq } from '../src/ingest/dead-letters';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { listArchive, readArchive } from './kit/archive';
import {
  ADMIN,
  basic,
  env,
  eventually,
  getJson,
  makeDestination,
  makeSource,
  post,
  type Received,
  SELF,
  uniq,
  vendor,
  waitForEvents,
} from './kit/workers';

const HOST = 'pii-replay.example';
let hook: ReturnType<typeof vendor>;
beforeAll(() => {
  hook = vendor(HOST);
});
afterAll(() => hook.restore());

describe('the archive keeps PII sealed', () => {
  const user = uniq('arch-pii');
  const email = `${uniq('archmail')}@example.com`;
  let sourceId: string;
  const from = new Date(Date.now() - 60_000).toISOString();

  beforeAll(async () => {
    const source = await makeSource('pii archive');
    sourceId = source.id;
    const res = await post(
      '/v1/batch',
      {
        batch: [
          { type: 'identify', userId: user, traits: { email, name: 'Archie Sealed', plan: 'pro' } },
          { type: 'track', userId: user, event: 'Bought', properties: { n: 1 }, context: { traits: { email } } },
        ],
      },
      { authorization: basic(source.writeKey) },
    );
    expect(res.status).toBe(200);
    await vi.waitUntil(async () => (await listArchive(sourceId)).reduce((n, o) => n + o.rows, 0) >= 2, {
      timeout: 90_000,
      interval: 500,
    });
  }, 120_000);

  it('writes the email, name and context.traits sealed into Parquet; other traits stay readable', async () => {
    const rows = await readArchive(sourceId);
    expect(rows).toHaveLength(2);
    const text = JSON.stringify(rows);
    expect(text).toContain(user); // the ids Bloom erasure matches stay as they are
    expect(text).not.toContain(email);
    expect(text).not.toContain('Archie Sealed');
    const identify = rows.find((r) => r.type === 'identify');
    const traits = JSON.parse(identify?.traits ?? '{}');
    expect(traits.email).toMatch(/^pii1\./);
    expect(traits.plan).toBe('pro');
    const track = rows.find((r) => r.type === 'track');
    expect(JSON.parse(track?.context ?? '{}').traits.email).toMatch(/^pii1\./);
    for (const o of await listArchive(sourceId)) {
      const raw = await (await env.ARCHIVE.get(o.key))?.text();
      expect(raw).not.toContain(email);
    }
  });

  it('a replay opens them: its filter matches the email and the destination gets it as sent', async () => {
    const dest = await makeDestination({
      type: 'webhook',
      name: 'pii replay',
      sourceIds: [],
      settings: { url: `https://${HOST}/r` },
    });
    const res = await post(
      '/api/replays',
      {
        sourceId,
        from,
        to: new Date(Date.now() + 60_000).toISOString(),
        destinationIds: [dest.id],
        filter: `traits.email = "${email}"`,
      },
      ADMIN,
    );
    expect(res.status).toBe(202);
    const got = await eventually(() => hook.received.find((r: Received) => r.body.userId === user), 60_000);
    expect(got.body).toMatchObject({ type: 'identify', traits: { email, name: 'Archie Sealed' } });
    expect(JSON.stringify(got.body)).not.toContain('pii1.');
    await new Promise((r) => setTimeout(r, 1500));
    expect(hook.received.filter((r) => r.body.userId === user)).toHaveLength(1); // the filter held
  }, 90_000);

  it('erasing the subject still finds and removes their rows', async () => {
    const r = await eraseSubjects(env, { userIds: [user] });
    expect(r.rowsRemoved).toBe(2);
    expect(await readArchive(sourceId)).toEqual([]);
  });
});

function deadLetter(sourceId: string, userId: string, email: string): IngestMessage {
  const now = new Date().toISOString();
  const event = {
    type: 'identify',
    userId,
    messageId: uniq('dlm'),
    traits: { email, plan: 'gold' },
    timestamp: now,
    receivedAt: now,
    originalTimestamp: now,
    context: { traits: { email } },
  };
  return { sourceId, event: event as unknown as EnrichedEvent };
}

describe('ingest dead letters keep PII sealed', () => {
  it('stores the event sealed, shows it opened with pii:read or masked without, and a replay resolves the email', async () => {
    const source = await makeSource('pii dlq');
    const userId = uniq('dl-pii');
    const email = `${uniq('dlmail')}@example.com`;
    const body = deadLetter(source.id, userId, email);
    const batch = createMessageBatch<IngestMessage>('tessera-ingest-dlq', [
      { id: uniq('q'), timestamp: new Date(), attempts: 101, body },
    ]);
    await consumeIngestDlq(batch, env);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toHaveLength(1);

    const row = await env.DB.prepare('SELECT body FROM ingest_failures WHERE message_id = ?')
      .bind(body.event.messageId)
      .first<{ body: string }>();
    expect(row?.body).toContain(userId);
    expect(row?.body).not.toContain(email);
    expect(JSON.parse(row?.body ?? '{}').event.traits.email).toMatch(/^pii1\./);

    type List = { data: { messageId: string; event: { traits: Record<string, unknown> } }[] };
    const mine = (l: List) => l.data.find((d) => d.messageId === body.event.messageId);
    const owner = await getJson<List>('/api/ingest/failures?limit=500');
    expect(mine(owner.body)?.event.traits).toEqual({ email, plan: 'gold' });
    const tokenRes = await post('/api/tokens', { name: 'dl reader', scopes: ['sources:read'] }, ADMIN);
    const reader = { authorization: `Bearer ${(await tokenRes.json<{ token: string }>()).token}` };
    const masked = await getJson<List>('/api/ingest/failures?limit=500', reader);
    expect(masked.status).toBe(200);
    expect(mine(masked.body)?.event.traits.email).toMatch(/^d\*\*\*@example\.com$/);

    const replay = await SELF.fetch('http://x/api/ingest/failures/replay', { method: 'POST', headers: ADMIN });
    expect(replay.status).toBe(200);
    await waitForEvents(`user_id:${userId}`, 1);
    // Identity saw the email as sent: the profile is found by it.
    const byEmail = await getJson<{ id: string }>(`/api/profiles/email:${encodeURIComponent(email)}`);
    const byUser = await getJson<{ id: string }>(`/api/profiles/user_id:${userId}`);
    expect(byEmail.status).toBe(200);
    expect(byEmail.body.id).toBe(byUser.body.id);
  });

  it('a regulation naming only the email still erases a sealed dead letter no profile links to them', async () => {
    const source = await makeSource('pii dlq erase');
    const email = `${uniq('erasemail')}@example.com`;
    // A fresh anonymous id: nothing but the (sealed) email ties this dead letter to the person.
    const body = deadLetter(source.id, '', email);
    const { userId: _none, ...event } = body.event as unknown as Record<string, unknown>;
    const lone = { sourceId: source.id, event: { ...event, anonymousId: uniq('lone') } as unknown as EnrichedEvent };
    const batch = createMessageBatch<IngestMessage>('tessera-ingest-dlq', [
      { id: uniq('q'), timestamp: new Date(), attempts: 101, body: lone },
    ]);
    await consumeIngestDlq(batch, env);
    const stored = () =>
      env.DB.prepare('SELECT body FROM ingest_failures WHERE message_id = ?').bind(lone.event.messageId).first();
    expect(await stored()).not.toBeNull();
    const res = await post(
      '/api/regulations',
      { regulationType: 'SUPPRESS_WITH_DELETE_INTERNAL', subjectType: 'EMAIL', subjectIds: [email.toUpperCase()] },
      ADMIN,
    );
    expect(res.status).toBe(201);
    const id = (await res.json<{ data: { regulateId: string } }>()).data.regulateId;
    await eventually(async () => {
      const r = await getJson<{ data: { regulation: { overallStatus: string } } }>(`/api/regulations/${id}`);
      return r.body.data.regulation.overallStatus === 'FINISHED' ? true : undefined;
    }, 30_000);
    expect(await stored()).toBeNull();
  });
});
