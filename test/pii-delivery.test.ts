import { createMessageBatch } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { consumeDelivery } from '../src/delivery/consumer';
import { consumeDeliveryDlq } from '../src/delivery/dlq';
import type { DeadLetterMessage, DeliveryMessage } from '../src/delivery/messages';
import { hmacHex } from '../src/destinations/webhook/sign';
import { seal } from '../src/privacy/pii';
import { piiKeyring } from '../src/privacy/pii-guard';
import { batchOf, fakeDeps, resultOf } from './kit/delivery';
import { env, makeDestination, makeSource, trackEvent } from './kit/workers';

const secret = 'whsec_pii_delivery_0123456789';
let sourceId: string;
let hook: { id: string };

beforeAll(async () => {
  sourceId = (await makeSource('pii delivery')).id;
  hook = await makeDestination({
    type: 'webhook',
    name: 'PII hook',
    sourceIds: [sourceId],
    settings: { url: 'https://pii-hook.example/in', sharedSecret: secret },
    // A filter on a PII trait: it must see the value as sent, not its sealed form.
    filters: [{ if: 'context.traits.email != "keep@example.com"', actions: [{ type: 'drop' }] }],
  });
});

describe('PII and secrets on the way out', () => {
  it('stores the shared secret sealed', async () => {
    const row = await env.DB.prepare('SELECT settings FROM destinations WHERE id = ?')
      .bind(hook.id)
      .first<{ settings: string }>();
    expect(row?.settings).not.toContain(secret);
    expect(JSON.parse(row?.settings ?? '{}').sharedSecret).toMatch(/^pii1\./);
  });

  it('vendors and filters get the PII values as sent, opened from the sealed outbox event', async () => {
    const ring = await piiKeyring(env);
    if (!ring) throw new Error('PII_KEY is set in the test config');
    const sealedEmail = await seal(ring, 'keep@example.com');
    const keep = trackEvent({ context: { traits: { email: sealedEmail } } });
    const drop = trackEvent({ context: { traits: { email: await seal(ring, 'other@example.com') } } });
    const messages: DeliveryMessage[] = [keep, drop].map((event) => ({
      kind: 'event',
      sourceId,
      profileId: 'use_x',
      event,
    }));
    const signatures: string[] = [];
    const { deps, calls } = fakeDeps({
      'pii-hook.example': async (req) => {
        const expected = await hmacHex('SHA-1', secret, await req.text());
        signatures.push(req.headers.get('x-signature') === expected ? 'valid' : 'invalid');
        return new Response('ok');
      },
    });
    const batch = batchOf(messages);
    await consumeDelivery(batch, env, deps);
    await resultOf(batch);
    expect(calls).toHaveLength(1);
    const body = calls[0].body as { messageId: string; context: { traits: { email: string } } };
    expect(body.messageId).toBe(keep.messageId);
    expect(body.context.traits.email).toBe('keep@example.com');
    expect(JSON.stringify(body)).not.toContain('pii1.');
    expect(signatures).toEqual(['valid']); // signed with the clear secret, opened from its sealed row
  });

  it('the destinations API never returns a secret in clear', async () => {
    const got = await (await fetchAdmin(`/api/destinations/${hook.id}`)).json<{ settings: Record<string, string> }>();
    expect(got.settings.sharedSecret).toBe(`****${secret.slice(-4)}`);
    const list = await (await fetchAdmin('/api/destinations')).text();
    expect(list).not.toContain(secret);
    expect(list).not.toContain('pii1.');
  });
});

describe('dead letters', () => {
  it('keep PII sealed in D1 and show it masked without pii:read', async () => {
    const email = `dlq-${crypto.randomUUID()}@example.com`;
    const event = trackEvent({ context: { traits: { email, plan: 'pro' } } });
    const failure: DeadLetterMessage = {
      kind: 'failed',
      destinationId: hook.id,
      sourceId,
      event,
      attempts: 3,
      firstAttemptAt: new Date().toISOString(),
      failedAt: new Date().toISOString(),
      error: 'vendor said no',
    };
    const batch = createMessageBatch<DeadLetterMessage>('tessera-delivery-dlq', [
      { id: 'dlq-pii-1', timestamp: new Date(), attempts: 1, body: failure },
    ]);
    await consumeDeliveryDlq(batch, env);
    const row = await env.DB.prepare('SELECT event FROM delivery_failures WHERE message_id = ?')
      .bind(event.messageId)
      .first<{ event: string }>();
    expect(row?.event).toContain('plan');
    expect(row?.event).not.toContain(email);
    type Failures = { data: { messageId: string; event: { context: { traits: Record<string, unknown> } } }[] };
    const clear = (await (await fetchAdmin(`/api/destinations/${hook.id}/failures`)).json()) as Failures;
    expect(clear.data.find((f) => f.messageId === event.messageId)?.event.context.traits.email).toBe(email);
    const token = await mintToken(['destinations:read']);
    const masked = (await (await fetchAdmin(`/api/destinations/${hook.id}/failures`, token)).json()) as Failures;
    expect(masked.data.find((f) => f.messageId === event.messageId)?.event.context.traits.email).toBe(
      `d***@example.com`,
    );
  });
});

async function mintToken(scopes: string[]): Promise<string> {
  const res = await (await import('cloudflare:test')).SELF.fetch('http://tessera.test/api/tokens', {
    method: 'POST',
    headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'dlq reader', scopes }),
  });
  return ((await res.json()) as { token: string }).token;
}

async function fetchAdmin(path: string, token = 'test-admin-token') {
  const { SELF } = await import('cloudflare:test');
  return SELF.fetch(`http://tessera.test${path}`, { headers: { authorization: `Bearer ${token}` } });
}
