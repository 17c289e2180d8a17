// The real @segment/analytics-node client, pointed at `wrangler dev`, sends every call type; each
// must land in the source debugger as accepted, with its messageId, library and corrected timestamps.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DebugEntry, startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

const { version: nodeLibVersion } = createRequire(import.meta.url)('@segment/analytics-node/package.json') as {
  version: string;
};

interface Received {
  type: string;
  messageId: string;
  timestamp: string;
  originalTimestamp: string;
  receivedAt: string;
  sentAt?: string;
  userId?: string;
  previousId?: string;
  groupId?: string;
  event?: string;
  name?: string;
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  context: { library?: { name: string; version: string }; ip?: string };
}

const ms = (iso: string | undefined) => Date.parse(iso ?? '');

describe('@segment/analytics-node → wrangler dev', () => {
  let t: Tessera;
  beforeAll(async () => {
    t = await startTessera({ sourceName: 'analytics-node e2e' });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('delivers identify, track, page, group and alias with corrected timestamps', async () => {
    const userId = `user-${randomUUID()}`;
    const anonymousId = `anon-${randomUUID()}`;
    const hourAgo = new Date(Date.now() - 3_600_000);
    const trackMessageId = `e2e-track-${randomUUID()}`;

    const analytics = new Analytics({
      writeKey: t.writeKey,
      host: t.url,
      path: '/v1/batch',
      flushAt: 5,
      flushInterval: 500,
      maxRetries: 0,
    });
    const statuses: number[] = [];
    const errors: unknown[] = [];
    analytics.on('http_response', (res) => statuses.push(res.status));
    analytics.on('error', (err) => errors.push(err));

    // Every call's callback resolves with the event exactly as the client built it.
    const sent = await Promise.all([
      new Promise<Received>((resolve, reject) =>
        analytics.identify({ userId, anonymousId, traits: { email: 'e2e@example.com', plan: 'pro' } }, (err, ctx) =>
          err ? reject(err) : resolve(JSON.parse(JSON.stringify(ctx!.event))),
        ),
      ),
      new Promise<Received>((resolve, reject) =>
        analytics.track(
          {
            userId,
            event: 'Order Completed',
            properties: { revenue: 42.5, currency: 'EUR' },
            timestamp: hourAgo,
            messageId: trackMessageId,
          },
          (err, ctx) => (err ? reject(err) : resolve(JSON.parse(JSON.stringify(ctx!.event)))),
        ),
      ),
      new Promise<Received>((resolve, reject) =>
        analytics.page({ userId, name: 'Pricing', properties: { path: '/pricing' } }, (err, ctx) =>
          err ? reject(err) : resolve(JSON.parse(JSON.stringify(ctx!.event))),
        ),
      ),
      new Promise<Received>((resolve, reject) =>
        analytics.group({ userId, groupId: 'acme-inc', traits: { name: 'Acme' } }, (err, ctx) =>
          err ? reject(err) : resolve(JSON.parse(JSON.stringify(ctx!.event))),
        ),
      ),
      new Promise<Received>((resolve, reject) =>
        analytics.alias({ userId, previousId: anonymousId }, (err, ctx) =>
          err ? reject(err) : resolve(JSON.parse(JSON.stringify(ctx!.event))),
        ),
      ),
    ]);
    await analytics.closeAndFlush({ timeout: 10_000 });

    expect(errors).toEqual([]);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(sent.map((e) => e.type)).toEqual(['identify', 'track', 'page', 'group', 'alias']);
    expect(sent[1].messageId).toBe(trackMessageId);

    const wanted = new Set(sent.map((e) => e.messageId));
    const entries = await eventually(
      async () => {
        const found = (await t.debuggerEvents<Received>()).filter((e) => wanted.has(e.event.messageId));
        return found.length === wanted.size && found;
      },
      { timeout: 10_000, message: '5 analytics-node events in the debugger' },
    );

    const byId = new Map<string, DebugEntry<Received>>(entries.map((e) => [e.event.messageId, e]));
    for (const client of sent) {
      const entry = byId.get(client.messageId)!;
      expect(entry.status, `${client.type}: ${JSON.stringify(entry.error)}`).toBe('accepted');
      const got = entry.event;
      expect(got.type).toBe(client.type);
      expect(got.messageId).toBe(client.messageId);
      expect(got.context.library).toEqual({ name: '@segment/analytics-node', version: nodeLibVersion });
      // Tessera adds receivedAt; the batch-level sentAt is merged into each event.
      expect(got.receivedAt).toBe(entry.receivedAt);
      expect(got.sentAt).toBeTruthy();
      // The client's own timestamp becomes originalTimestamp...
      expect(got.originalTimestamp).toBe(client.timestamp);
      // ...and timestamp is corrected for skew: receivedAt − (sentAt − originalTimestamp).
      expect(ms(got.timestamp)).toBe(ms(got.receivedAt) - (ms(got.sentAt) - ms(got.originalTimestamp)));
      // Client and Worker share this machine's clock, so the correction only adds transit time.
      expect(Math.abs(ms(got.timestamp) - ms(got.originalTimestamp))).toBeLessThan(10_000);
    }

    const track = byId.get(trackMessageId)!.event;
    expect(track.event).toBe('Order Completed');
    expect(track.properties).toEqual({ revenue: 42.5, currency: 'EUR' });
    expect(track.originalTimestamp).toBe(hourAgo.toISOString());
    expect(Math.abs(ms(track.timestamp) - hourAgo.getTime())).toBeLessThan(10_000);
    expect(ms(track.receivedAt) - ms(track.timestamp)).toBeGreaterThan(3_590_000);

    const [identify, , page, group, alias] = sent.map((e) => byId.get(e.messageId)!.event);
    expect(identify.traits).toMatchObject({ email: 'e2e@example.com', plan: 'pro' });
    expect(page.name).toBe('Pricing');
    expect(group.groupId).toBe('acme-inc');
    expect(alias).toMatchObject({ userId, previousId: anonymousId });
  });

  it('corrects the timestamp of a client whose clock is an hour behind', async () => {
    const skewMs = 3_600_000;
    const userId = `skewed-${randomUUID()}`;
    // Only Date is faked: the client stamps `timestamp` and `sentAt` from a clock an hour slow,
    // while its timers, its HTTP and the Worker run on the real clock.
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    let client: Received;
    try {
      vi.setSystemTime(Date.now() - skewMs);
      const analytics = new Analytics({ writeKey: t.writeKey, host: t.url, flushAt: 1, maxRetries: 0 });
      client = await new Promise<Received>((resolve, reject) =>
        analytics.track({ userId, event: 'Skewed Clock' }, (err, ctx) =>
          err ? reject(err) : resolve(JSON.parse(JSON.stringify(ctx!.event))),
        ),
      );
      await analytics.closeAndFlush({ timeout: 10_000 });
    } finally {
      vi.useRealTimers();
    }
    const realNow = Date.now();
    const entry = await eventually(
      async () => (await t.debuggerEvents<Received>()).find((e) => e.event.messageId === client.messageId),
      { timeout: 10_000, message: 'the skewed event in the debugger' },
    );
    const got = entry.event;
    expect(entry.status).toBe('accepted');
    expect(got.originalTimestamp).toBe(client.timestamp);
    expect(realNow - ms(got.originalTimestamp)).toBeGreaterThan(skewMs - 10_000);
    expect(realNow - ms(got.sentAt)).toBeGreaterThan(skewMs - 10_000);
    expect(ms(got.timestamp)).toBe(ms(got.receivedAt) - (ms(got.sentAt) - ms(got.originalTimestamp)));
    // The corrected time is on the server's clock: within transit time of receivedAt, not an hour off.
    expect(Math.abs(ms(got.receivedAt) - ms(got.timestamp))).toBeLessThan(10_000);
    expect(Math.abs(realNow - ms(got.timestamp))).toBeLessThan(15_000);
  });
});
