// Functions end to end through wrangler dev: customers' code in Worker Loader isolates.
// A source function's URL turns a Stripe-style `invoice.paid` webhook into `Order Completed`,
// which reaches a profile and a webhook destination; insert functions drop and change events on
// their way to a webhook receiver; a destination function posts to a local receiver, its
// RetryError retried and its ValidationError recorded without a retry.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Receiver, startReceiver } from '../kit/receiver';
import { startTessera, type Tessera } from '../kit/tessera';
import { eventually } from '../kit/wait';

const INVOICE_PAID = `
async function onRequest(request, settings) {
  const body = await request.json();
  if (body.type !== 'invoice.paid') throw new ValidationError('unsupported event ' + body.type);
  const invoice = body.data.object;
  console.log('invoice', invoice.id, 'for', invoice.customer_email);
  Segment.identify({ userId: invoice.customer, traits: { email: invoice.customer_email } });
  Segment.track({
    event: 'Order Completed',
    userId: invoice.customer,
    properties: { order_id: invoice.id, revenue: invoice.amount_paid / 100, currency: invoice.currency.toUpperCase(), store: settings.store },
  });
}`;

const INSERT = `
async function onTrack(event, settings) {
  if (event.event === 'Drop Me') return;
  event.properties = { ...event.properties, enriched: settings.tag };
  return event;
}`;

const DESTINATION = `
async function onTrack(event, settings) {
  const res = await fetch(settings.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + settings.apiKey },
    body: JSON.stringify({ name: event.event, id: event.messageId }),
  });
  if (event.event === 'Invalid') throw new ValidationError('this event has no order id');
  if (res.status >= 500) throw new RetryError('the receiver answered ' + res.status);
}`;

describe('functions through the running Worker', () => {
  let t: Tessera;
  let hook: Receiver;
  let fnReceiver: Receiver;
  beforeAll(async () => {
    hook = await startReceiver();
    // The destination function's receiver fails the first request of each "Flaky" event.
    const seen = new Set<string>();
    fnReceiver = await startReceiver((r) => {
      const body = r.json as { name?: string; id?: string };
      if (body?.name === 'Flaky' && body.id && !seen.has(body.id)) {
        seen.add(body.id);
        return { status: 503, body: 'try later' };
      }
      return { status: 200, body: 'ok' };
    });
    t = await startTessera({
      sourceName: 'functions e2e',
      vars: { DELIVERY_BACKOFF_BASE_SECONDS: '1', DELIVERY_TIMEOUT_MS: '3000' },
    });
    await t.admin('/api/destinations', {
      method: 'POST',
      body: { type: 'webhook', name: 'Hook', sourceIds: [t.sourceId], settings: { url: `${hook.url}/hook` } },
    });
  });
  afterAll(async () => {
    await t?.stop();
    await hook?.stop();
    await fnReceiver?.stop();
  });

  const received = (r: Receiver, pred: (j: Record<string, unknown>) => boolean) =>
    r.requests.filter((x) => x.json && pred(x.json as Record<string, unknown>));

  it('turns an invoice.paid webhook into Order Completed on a profile and at a destination', async () => {
    const fn = await t.admin<{ id: string; version: number }>('/api/functions', {
      method: 'POST',
      body: {
        name: 'Stripe invoices',
        kind: 'source',
        code: INVOICE_PAID,
        settings: [{ name: 'store', type: 'string', required: true, secret: false }],
      },
    });
    expect(fn.version).toBe(1);
    const instance = await t.admin<{ id: string; url: string }>(`/api/functions/${fn.id}/instances`, {
      method: 'POST',
      body: { sourceId: t.sourceId, settings: { store: 'eu' } },
    });
    const customer = `cus_${randomUUID()}`;
    const invoiceId = `in_${randomUUID()}`;
    const res = await fetch(instance.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=abc' },
      body: JSON.stringify({
        type: 'invoice.paid',
        data: {
          object: { id: invoiceId, customer, customer_email: 'payer@example.com', amount_paid: 4200, currency: 'eur' },
        },
      }),
    });
    expect(res.status).toBe(200);

    const atHook = await eventually(
      () => received(hook, (j) => j.event === 'Order Completed' && j.userId === customer)[0],
      { timeout: 20_000, message: 'Order Completed at the webhook' },
    );
    expect((atHook.json as { properties: unknown }).properties).toMatchObject({
      order_id: invoiceId,
      revenue: 42,
      currency: 'EUR',
      store: 'eu',
    });
    const auth = { authorization: `Basic ${Buffer.from(`${t.adminToken}:`).toString('base64')}` };
    const traits = await eventually(
      async () => {
        const r = await fetch(`${t.url}/v1/spaces/default/collections/users/profiles/user_id:${customer}/traits`, {
          headers: auth,
        });
        const body = (await r.json()) as { traits?: Record<string, unknown> };
        return r.ok && body.traits?.email === 'payer@example.com' && body.traits;
      },
      { timeout: 20_000, message: 'the profile with the email trait' },
    );
    expect(traits.email).toBe('payer@example.com');
    const events = await fetch(`${t.url}/v1/spaces/default/collections/users/profiles/user_id:${customer}/events`, {
      headers: auth,
    });
    expect(JSON.stringify(await events.json())).toContain('Order Completed');

    // The invocation is recorded with its console output; a bad payload answers 400 and counts an error.
    const bad = await fetch(instance.url, { method: 'POST', body: JSON.stringify({ type: 'charge.failed' }) });
    expect(bad.status).toBe(400);
    const inv = await eventually(
      async () => {
        const r = await t.admin<{
          data: { invocations: number; errors: number; recent: { logs: { message: string }[] }[] }[];
        }>(`/api/functions/${fn.id}/invocations`);
        return r.data[0]?.invocations >= 2 && r.data[0];
      },
      { message: 'two invocations recorded' },
    );
    expect(inv.errors).toBe(1);
    expect(JSON.stringify(inv.recent)).toContain(`invoice ${invoiceId} for payer@example.com`);
  });

  it('runs insert functions on a source: one event dropped, one changed, seen at the receiver', async () => {
    const fn = await t.admin<{ id: string }>('/api/functions', {
      method: 'POST',
      body: {
        name: 'Tagger',
        kind: 'insert',
        code: INSERT,
        settings: [{ name: 'tag', type: 'string', required: true, secret: false }],
      },
    });
    const inst = await t.admin<{ id: string }>(`/api/functions/${fn.id}/instances`, {
      method: 'POST',
      body: { sourceId: t.sourceId, settings: { tag: 'by-source-fn' } },
    });
    const userId = `ins-${randomUUID()}`;
    const res = await fetch(`${t.url}/v1/batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${t.writeKey}:`).toString('base64')}`,
      },
      body: JSON.stringify({
        batch: [
          { type: 'track', userId, event: 'Drop Me', messageId: `drop-${userId}` },
          { type: 'track', userId, event: 'Keep Me', messageId: `keep-${userId}`, properties: { a: 1 } },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const kept = await eventually(() => received(hook, (j) => j.messageId === `keep-${userId}`)[0], {
      timeout: 20_000,
      message: 'the changed event at the receiver',
    });
    expect((kept.json as { properties: unknown }).properties).toEqual({ a: 1, enriched: 'by-source-fn' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(received(hook, (j) => j.messageId === `drop-${userId}`)).toHaveLength(0);
    await t.admin(`/api/functions/${fn.id}/instances/${inst.id}`, { method: 'DELETE' });
  });

  it('runs an insert function on a destination before its mapping', async () => {
    const other = await startReceiver();
    try {
      const dest = await t.admin<{ id: string }>('/api/destinations', {
        method: 'POST',
        body: { type: 'webhook', name: 'Other hook', sourceIds: [t.sourceId], settings: { url: `${other.url}/x` } },
      });
      const fn = await t.admin<{ id: string }>('/api/functions', {
        method: 'POST',
        body: {
          name: 'Dest tagger',
          kind: 'insert',
          code: INSERT,
          settings: [{ name: 'tag', type: 'string', required: true, secret: false }],
        },
      });
      await t.admin(`/api/functions/${fn.id}/instances`, {
        method: 'POST',
        body: { destinationId: dest.id, settings: { tag: 'by-destination-fn' } },
      });
      const userId = `dins-${randomUUID()}`;
      await fetch(`${t.url}/v1/batch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${t.writeKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({
          batch: [
            { type: 'track', userId, event: 'Drop Me', messageId: `ddrop-${userId}` },
            { type: 'track', userId, event: 'Keep Me', messageId: `dkeep-${userId}` },
          ],
        }),
      });
      const kept = await eventually(() => received(other, (j) => j.messageId === `dkeep-${userId}`)[0], {
        timeout: 20_000,
        message: 'the changed event at the destination with the insert function',
      });
      expect((kept.json as { properties: unknown }).properties).toEqual({ enriched: 'by-destination-fn' });
      // The other destination got both events, unchanged: the function is scoped to its destination.
      const plain = await eventually(
        () => {
          const got = received(hook, (j) => j.userId === userId);
          return got.length >= 2 && got;
        },
        { timeout: 20_000, message: 'both events at the destination without it' },
      );
      expect(JSON.stringify(plain.map((r) => r.json))).not.toContain('by-destination-fn');
      expect(received(other, (j) => j.messageId === `ddrop-${userId}`)).toHaveLength(0);
    } finally {
      await other.stop();
    }
  });

  it('delivers through a destination function: RetryError retried, ValidationError not', async () => {
    const fn = await t.admin<{ id: string }>('/api/functions', {
      method: 'POST',
      body: {
        name: 'My API',
        kind: 'destination',
        code: DESTINATION,
        settings: [
          { name: 'url', type: 'string', required: true, secret: false },
          { name: 'apiKey', type: 'string', required: true, secret: true },
        ],
      },
    });
    const inst = await t.admin<{ destinationId: string; settings: Record<string, unknown>; secretSettings: string[] }>(
      `/api/functions/${fn.id}/instances`,
      {
        method: 'POST',
        body: { sourceId: t.sourceId, settings: { url: `${fnReceiver.url}/in`, apiKey: 'sk_live_secret' } },
      },
    );
    expect(inst.settings).toEqual({ url: `${fnReceiver.url}/in` });
    expect(inst.secretSettings).toEqual(['apiKey']);
    expect(JSON.stringify(await t.admin(`/api/functions/${fn.id}`))).not.toContain('sk_live_secret');

    const userId = `dfn-${randomUUID()}`;
    await fetch(`${t.url}/v1/batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${t.writeKey}:`).toString('base64')}`,
      },
      body: JSON.stringify({
        batch: [
          { type: 'track', userId, event: 'Flaky', messageId: `flaky-${userId}` },
          { type: 'track', userId, event: 'Invalid', messageId: `invalid-${userId}` },
        ],
      }),
    });
    const flaky = await eventually(
      () => {
        const got = received(fnReceiver, (j) => j.id === `flaky-${userId}`);
        return got.length >= 2 && got;
      },
      { timeout: 30_000, message: 'the Flaky event sent twice (503, then 200)' },
    );
    expect(flaky.map((r) => r.answer)).toEqual([503, 200]);
    expect(flaky[0].headers.authorization).toBe('Bearer sk_live_secret');
    // ValidationError: recorded as a failure with its message, sent once, never retried.
    const failures = await eventually(
      async () => {
        const r = await t.admin<{ data: { messageId: string; error: string }[] }>(
          `/api/destinations/${inst.destinationId}/failures`,
        );
        return r.data.find((f) => f.messageId === `invalid-${userId}`);
      },
      { timeout: 20_000, message: 'the ValidationError recorded' },
    );
    expect(failures.error).toContain('ValidationError: this event has no order id');
    await new Promise((r) => setTimeout(r, 2500));
    expect(received(fnReceiver, (j) => j.id === `invalid-${userId}`)).toHaveLength(1);
  });
});
