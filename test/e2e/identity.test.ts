// The real @segment/analytics-node client, pointed at `wrangler dev`: a visitor browses
// anonymously, then identifies. Everything must end on one profile, visible through the Segment
// Profile API (token as Basic username, as Segment's clients send it) within a second of the
// ingest consumer receiving it. The queue's batch window (`max_batch_timeout` of the ingest
// consumer in wrangler.toml) comes on top: the consumer only runs once a batch is due.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

/** The ingest consumer's batch window in ms, read from wrangler.toml. */
function ingestBatchWindowMs(): number {
  const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
  const block = toml.split('[[queues.consumers]]').find((b) => /queue\s*=\s*"tessera-ingest"/.test(b)) ?? '';
  const seconds = Number(/max_batch_timeout\s*=\s*([\d.]+)/.exec(block)?.[1] ?? 5);
  return seconds * 1000;
}

describe('identity: anonymous then identified, with @segment/analytics-node', () => {
  let t: Tessera;
  beforeAll(async () => {
    t = await startTessera({ sourceName: 'identity e2e' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const profileApi = (ref: string, resource: string) =>
    fetch(`${t.url}/v1/spaces/default/collections/users/profiles/${encodeURIComponent(ref)}/${resource}`, {
      headers: { authorization: `Basic ${Buffer.from(`${t.adminToken}:`).toString('base64')}` },
    });

  it('stitches the anonymous visit to the identified user on one profile', async () => {
    const anonymousId = `anon-${randomUUID()}`;
    const userId = `user-${randomUUID()}`;
    const client = () =>
      new Analytics({
        writeKey: t.writeKey,
        host: t.url,
        path: '/v1/batch',
        flushAt: 20,
        flushInterval: 50,
        maxRetries: 0,
      });
    const errors: unknown[] = [];

    const browsing = client();
    browsing.on('error', (err) => errors.push(err));
    browsing.page({ anonymousId, name: 'Pricing', properties: { path: '/pricing' } });
    browsing.track({ anonymousId, event: 'Plan Selected', properties: { plan: 'pro' } });
    await browsing.closeAndFlush({ timeout: 10_000 });
    // The anonymous profile exists before the visitor signs up.
    await eventually(async () => (await profileApi(`anonymous_id:${anonymousId}`, 'metadata')).ok, {
      timeout: 15_000,
      message: 'anonymous profile',
    });

    const signup = client();
    signup.on('error', (err) => errors.push(err));
    signup.identify({ userId, anonymousId, traits: { email: `${userId}@Example.com`, plan: 'pro' } });
    signup.track({ userId, event: 'Signed Up' });
    await signup.closeAndFlush({ timeout: 10_000 });
    const accepted = performance.now();
    expect(errors).toEqual([]);

    type Events = { data: { type: string; related: { users: string } }[] };
    const events = await eventually(
      async () => {
        const res = await profileApi(`user_id:${userId}`, 'events?limit=20');
        const body = res.ok ? ((await res.json()) as Events) : undefined;
        return body && body.data.length === 4 ? body : undefined;
      },
      {
        timeout: ingestBatchWindowMs() + 1_000,
        interval: 25,
        message: 'all four events on the user profile within a second (after the queue batch window)',
      },
    );
    const latency = performance.now() - accepted;
    console.log(`anonymous → identified profile visible ${latency.toFixed(0)} ms after the client's flush`);

    const profileId = events.data[0].related.users;
    expect(events.data.map((e) => e.type).sort()).toEqual(['identify', 'page', 'track', 'track']);
    expect(new Set(events.data.map((e) => e.related.users))).toEqual(new Set([profileId]));
    const byAnon = (await (await profileApi(`anonymous_id:${anonymousId}`, 'events')).json()) as Events;
    expect(byAnon.data[0].related.users).toBe(profileId);
    const ids = (await (await profileApi(`email:${userId}@example.com`, 'external_ids')).json()) as {
      data: { type: string; id: string }[];
    };
    expect(ids.data.map((d) => `${d.type}:${d.id}`).sort()).toEqual(
      [`anonymous_id:${anonymousId}`, `email:${userId}@example.com`, `user_id:${userId}`].sort(),
    );
    const traits = (await (await profileApi(`user_id:${userId}`, 'traits')).json()) as { traits: unknown };
    expect(traits.traits).toEqual({ email: `${userId}@Example.com`, plan: 'pro' });
  });
});
