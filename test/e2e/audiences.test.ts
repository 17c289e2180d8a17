// @segment/analytics-node → Tessera (wrangler dev) → audience evaluation in the Profile object →
// a webhook destination connected to the audience, on a real local HTTP receiver: it receives the
// Segment Engage events (identify with the audience trait, track "Audience Entered"), signed.
import { createHmac, randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, signatureValid, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

const SECRET = 'whsec_audiences_0123456789';
type Json = Record<string, unknown>;

describe('audience events at a connected webhook destination', () => {
  let t: Tessera;
  let receiver: Receiver;
  let destinationId: string;
  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTessera({ sourceName: 'audiences e2e', vars: { DELIVERY_BACKOFF_BASE_SECONDS: '1' } });
    const dest = await t.admin<{ id: string }>('/api/destinations', {
      method: 'POST',
      body: {
        type: 'webhook',
        name: 'Engage receiver',
        sourceIds: [], // audiences only
        settings: { url: `${receiver.url}/engage`, sharedSecret: SECRET },
      },
    });
    destinationId = dest.id;
  });
  afterAll(async () => {
    await t?.stop();
    await receiver?.stop();
  });

  it('sends identify with trait <key>: true and track "Audience Entered" once the user qualifies', async () => {
    const definition = { event: 'Order Completed', where: 'properties.total > 50' };
    const asTrait = await t.admin<{ id: string }>('/api/audiences', {
      method: 'POST',
      body: { key: 'e2e_buyers', name: 'Buyers', definition, destinationIds: [destinationId], public: true },
    });
    await t.admin('/api/audiences', {
      method: 'POST',
      body: {
        key: 'e2e_buyers_track',
        name: 'Buyers (track)',
        emit: 'track',
        definition,
        destinationIds: [destinationId],
      },
    });
    await eventually(async () => (await t.admin<{ status: string }>('/api/audiences/e2e_buyers')).status === 'ready', {
      message: 'the back-fill of the new audience',
    });

    const userId = `e2e-${randomUUID()}`;
    const analytics = new Analytics({
      writeKey: t.writeKey,
      host: t.url,
      path: '/v1/batch',
      flushAt: 1,
      flushInterval: 50,
    });
    analytics.identify({ userId, traits: { email: 'buyer@example.com' } });
    analytics.track({ userId, event: 'Order Completed', properties: { total: 20 } });
    await analytics.closeAndFlush({ timeout: 10_000 });
    const qualifyingAt = Date.now();
    const second = new Analytics({
      writeKey: t.writeKey,
      host: t.url,
      path: '/v1/batch',
      flushAt: 1,
      flushInterval: 50,
    });
    second.track({ userId, event: 'Order Completed', properties: { total: 75 } });
    await second.closeAndFlush({ timeout: 10_000 });

    const mine = () => receiver.requests.filter((r) => (r.json as Json)?.userId === userId);
    const [identify, track] = await eventually(
      () => {
        const got = mine();
        const i = got.find((r) => (r.json as Json).type === 'identify');
        const k = got.find((r) => (r.json as Json).type === 'track');
        return i && k && ([i, k] as const);
      },
      { timeout: 20_000, message: 'both audience events at the receiver' },
    );
    expect(identify.path).toBe('/engage');
    expect(signatureValid(identify, SECRET) && signatureValid(track, SECRET)).toBe(true);
    expect(identify.json).toMatchObject({
      type: 'identify',
      userId,
      messageId: expect.stringMatching(/^personas_/),
      traits: { e2e_buyers: true, email: 'buyer@example.com' },
      context: {
        personas: {
          computation_class: 'audience',
          computation_id: asTrait.id,
          computation_key: 'e2e_buyers',
          namespace: 'default',
          space_id: 'default',
        },
      },
    });
    expect(track.json).toMatchObject({
      type: 'track',
      event: 'Audience Entered',
      userId,
      properties: { audience_key: 'e2e_buyers_track', e2e_buyers_track: true },
      context: { personas: { computation_key: 'e2e_buyers_track' }, traits: { email: 'buyer@example.com' } },
    });
    // Only the audience events: the destination is connected to no source.
    expect(mine()).toHaveLength(2);
    expect(identify.at - qualifyingAt).toBeLessThan(10_000);

    // A userId needs a token the customer's backend signs with the source's personalize secret.
    const { personalizeSecret } = await t.admin<{ personalizeSecret: { secret: string } }>(
      `/api/sources/${t.sourceId}/personalize-secret`,
      { method: 'POST' },
    );
    const exp = Math.floor(Date.now() / 1000) + 600;
    const sig = createHmac('sha256', personalizeSecret.secret).update(`v1.${exp}.${userId}`).digest('base64url');
    const token = `v1.${exp}.${sig}`;
    expect((await fetch(`${t.url}/v1/personalize?writeKey=${t.writeKey}&userId=${userId}`)).status).toBe(401);
    const personalized = await fetch(`${t.url}/v1/personalize?writeKey=${t.writeKey}&userId=${userId}&token=${token}`);
    expect(await personalized.json()).toEqual({ audiences: { e2e_buyers: true }, traits: {} });
    const members = await eventually(
      async () => {
        const m = await t.admin<{ data: unknown[] }>('/api/audiences/e2e_buyers/members');
        return m.data.length > 0 && m.data;
      },
      { message: 'the member in D1' },
    );
    expect(members).toHaveLength(1);
  });
});
