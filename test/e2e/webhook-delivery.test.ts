// @segment/analytics-node → Tessera (wrangler dev) → a webhook destination on a real local HTTP
// receiver: every call type arrives once, signed (X-Signature as Segment, plus the timestamped
// SHA-256), and the destination test endpoint and health report what happened.
import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, signatureValid, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

const SECRET = 'whsec_e2e_0123456789abcdef';

describe('analytics-node → Tessera → webhook receiver', () => {
  let t: Tessera;
  let receiver: Receiver;
  let destinationId: string;
  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTessera({
      sourceName: 'webhook e2e',
      vars: { DELIVERY_BACKOFF_BASE_SECONDS: '1', DELIVERY_TIMEOUT_MS: '3000' },
    });
    const dest = await t.admin<{ id: string }>('/api/destinations', {
      method: 'POST',
      body: {
        type: 'webhook',
        name: 'E2E receiver',
        sourceIds: [t.sourceId],
        settings: { url: `${receiver.url}/segment`, sharedSecret: SECRET },
      },
    });
    destinationId = dest.id;
  });
  afterAll(async () => {
    await t?.stop();
    await receiver?.stop();
  });

  it("POST /:id/test sends a sample event and returns the receiver's answer", async () => {
    const res = await t.admin<{ ok: boolean; status: number; response: string }>(
      `/api/destinations/${destinationId}/test`,
      {
        method: 'POST',
      },
    );
    expect(res).toMatchObject({ ok: true, status: 200, response: 'ok' });
    const got = receiver.requests.find((r) => (r.json as { event?: string })?.event === 'Tessera Test Event');
    expect(got && signatureValid(got, SECRET)).toBe(true);
  });

  it('delivers identify, track, page, group and alias once each, signed', async () => {
    const userId = `user-${randomUUID()}`;
    const analytics = new Analytics({
      writeKey: t.writeKey,
      host: t.url,
      path: '/v1/batch',
      flushAt: 5,
      flushInterval: 200,
    });
    const ids: Record<string, string> = {};
    const id = (type: string) => {
      ids[type] = `e2e-${type}-${randomUUID()}`;
      return ids[type];
    };
    analytics.identify({ userId, traits: { email: 'e2e@example.com', plan: 'pro' }, messageId: id('identify') });
    analytics.track({ userId, event: 'Order Completed', properties: { revenue: 12.5 }, messageId: id('track') });
    analytics.page({
      userId,
      name: 'Pricing',
      properties: { url: 'https://x.example/pricing' },
      messageId: id('page'),
    });
    analytics.group({ userId, groupId: 'acme', traits: { name: 'Acme' }, messageId: id('group') });
    analytics.alias({ userId, previousId: `anon-${randomUUID()}`, messageId: id('alias') });
    await analytics.closeAndFlush({ timeout: 10_000 });

    const wanted = new Set(Object.values(ids));
    const arrived = await eventually(
      () => {
        const got = receiver.requests.filter((r) => wanted.has((r.json as { messageId?: string })?.messageId ?? ''));
        return got.length >= wanted.size && got;
      },
      { timeout: 30_000, message: 'the five events at the webhook receiver' },
    );
    // Each exactly once, with its type, signed with the shared secret.
    expect(arrived).toHaveLength(5);
    for (const [type, messageId] of Object.entries(ids)) {
      const r = arrived.find((x) => (x.json as { messageId: string }).messageId === messageId);
      expect(r?.json, type).toMatchObject({ type, userId, messageId });
      expect(r && signatureValid(r, SECRET), `${type} signature`).toBe(true);
      expect(r?.headers['content-type']).toBe('application/json');
    }
    const track = arrived.find((x) => (x.json as { type: string }).type === 'track')?.json as Record<string, unknown>;
    expect(track).toMatchObject({ event: 'Order Completed', properties: { revenue: 12.5 } });
    expect((track.context as { library: { name: string } }).library.name).toBe('@segment/analytics-node');

    const health = await eventually(
      async () => {
        const h = await t.admin<{ totals: { delivered: number; p95Ms: number | null } }>(
          `/api/destinations/${destinationId}/health`,
        );
        return h.totals.delivered >= 5 && h;
      },
      { timeout: 10_000, message: 'health counting the deliveries' },
    );
    expect(health.totals.p95Ms).toBeGreaterThan(0);
  });

  it('keeps secrets masked when reading the destination', async () => {
    const d = await t.admin<{ settings: { sharedSecret: string } }>(`/api/destinations/${destinationId}`);
    expect(d.settings.sharedSecret).toBe('****cdef');
  });
});
