import { describe, expect, it } from 'vitest';
import { CTX, EVENTS, mapWith, snapshotEachCallType } from '../test-events';
import { webhook } from './index';
import { hmacHex } from './sign';

const settings = {
  url: 'https://hooks.example.com/segment',
  sharedSecret: 'whsec_0123456789',
  headers: { 'X-Team': 'growth' },
};

describe('webhook destination', () => {
  snapshotEachCallType(webhook, settings, {
    title: (type) => `sends the ${type} event as Segment's webhook JSON`,
    // Documented format: the Segment event itself is the body, POSTed as JSON.
    check: (req, event) => {
      expect(req?.method).toBe('POST');
      expect(req?.url).toBe(settings.url);
      expect(req?.headers['content-type']).toBe('application/json');
      expect(JSON.parse(req?.body ?? '')).toEqual(event);
    },
  });

  it('signs with X-Signature = hex HMAC-SHA1 of the body, like Segment', async () => {
    const req = await mapWith(webhook, settings, [EVENTS.track]);
    const body = req?.body ?? '';
    expect(req?.headers['x-signature']).toMatch(/^[0-9a-f]{40}$/);
    expect(req?.headers['x-signature']).toBe(await hmacHex('SHA-1', settings.sharedSecret, body));
  });

  it('adds a timestamped SHA-256 signature over "<t>.<body>"', async () => {
    const req = await mapWith(webhook, settings, [EVENTS.identify]);
    const t = Math.floor(CTX.now.getTime() / 1000);
    const expected = await hmacHex('SHA-256', settings.sharedSecret, `${t}.${req?.body}`);
    expect(req?.headers['x-tessera-signature']).toBe(`t=${t},v1=${expected}`);
  });

  it('sends no signature without a secret, custom headers and methods as configured', async () => {
    const req = await mapWith(webhook, { url: settings.url, method: 'PUT', headers: { Authorization: 'Bearer x' } }, [
      EVENTS.page,
    ]);
    expect(req?.method).toBe('PUT');
    expect(req?.headers.Authorization).toBe('Bearer x');
    expect(req?.headers['x-signature']).toBeUndefined();
  });

  it('batches as a JSON array when batchSize > 1', async () => {
    const req = await mapWith(webhook, { ...settings, batchSize: 10 }, [EVENTS.track, EVENTS.page]);
    expect(JSON.parse(req?.body ?? '')).toEqual([EVENTS.track, EVENTS.page]);
  });

  it('rejects settings that are not a URL', () => {
    expect(webhook.settings.safeParse({ url: 'ftp://x' }).success).toBe(false);
    expect(webhook.settings.safeParse({ url: 'not a url' }).success).toBe(false);
  });
});
