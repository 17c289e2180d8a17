import { beforeAll, describe, expect, it } from 'vitest';
import { debuggerUntil as debuggerUntil_, type Entry, find, makeSource, SELF } from './kit/workers';

/** The pixel API (`GET /v1/pixel/<type>?data=…`), as Segment documents it. */

let source: { id: string; writeKey: string };

beforeAll(async () => {
  source = await makeSource('Pixel tests');
});

const debuggerUntil = (pred: (entries: Entry[]) => boolean) => debuggerUntil_(source.id, pred);

describe('pixel', () => {
  it('GET /v1/pixel/track answers a GIF and records the event', async () => {
    const messageId = `px-${crypto.randomUUID()}`;
    const data = btoa(JSON.stringify({ writeKey: source.writeKey, event: 'Email Opened', userId: 'u9', messageId }));
    const res = await SELF.fetch(`http://x/v1/pixel/track?data=${encodeURIComponent(data)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(new Uint8Array(await res.arrayBuffer()).slice(0, 3)).toEqual(new Uint8Array([71, 73, 70]));
    const entries = await debuggerUntil((es) => !!find(es, messageId));
    expect(find(entries, messageId)!.event).toMatchObject({ type: 'track', event: 'Email Opened' });
  });

  it('answers 200 image/gif to bad pixel requests too, and records a refused event in the debugger', async () => {
    const noKey = btoa(JSON.stringify({ event: 'E', userId: 'u' }));
    const messageId = `px-bad-${crypto.randomUUID()}`;
    const invalid = btoa(JSON.stringify({ writeKey: source.writeKey, messageId, userId: 'u' }));
    for (const query of ['', '?data=%%%', '?data=bm90IGpzb24', `?data=${noKey}`, `?data=${invalid}`]) {
      const res = await SELF.fetch(`http://x/v1/pixel/track${query}`);
      expect(res.status, query).toBe(200);
      expect(res.headers.get('content-type'), query).toBe('image/gif');
    }
    expect((await SELF.fetch(`http://x/v1/pixel/nope?data=${btoa('{}')}`)).headers.get('content-type')).toBe(
      'image/gif',
    );
    const entries = await debuggerUntil((es) => !!find(es, messageId));
    expect(find(entries, messageId)).toMatchObject({ status: 'rejected', error: { code: 'invalid_event' } });
  });

  it('accepts raw, URL-encoded and URL-safe base64 JSON in `data`, and stamps the device address', async () => {
    const tag = crypto.randomUUID();
    const event = (k: string) => ({
      writeKey: source.writeKey,
      event: 'Opened ü?>',
      userId: 'u9',
      messageId: `${tag}-${k}`,
    });
    const utf8b64 = (v: unknown) => btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(v))));
    const urlSafe = utf8b64(event('b64url')).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const queries = {
      raw: encodeURIComponent(JSON.stringify(event('raw'))),
      encoded: encodeURIComponent(encodeURIComponent(JSON.stringify(event('encoded')))),
      b64url: urlSafe,
    };
    for (const q of Object.values(queries)) {
      const res = await SELF.fetch(`http://x/v1/pixel/track?data=${q}`, {
        headers: { 'cf-connecting-ip': '192.0.2.44' },
      });
      expect(res.headers.get('content-type')).toBe('image/gif');
    }
    const entries = await debuggerUntil((es) => Object.keys(queries).every((k) => !!find(es, `${tag}-${k}`)));
    for (const k of Object.keys(queries)) {
      expect(find(entries, `${tag}-${k}`), k).toMatchObject({ status: 'accepted', event: { event: 'Opened ü?>' } });
      // A pixel is loaded by the user's browser or mail client: its address is the user's.
      expect(find(entries, `${tag}-${k}`)!.event.context.ip, k).toBe('192.0.2.44');
    }
    // ...unless a mail service's image proxy fetched it.
    const proxied = `${tag}-proxied`;
    await SELF.fetch(
      `http://x/v1/pixel/track?data=${encodeURIComponent(JSON.stringify({ ...event('x'), messageId: proxied }))}`,
      {
        headers: { 'cf-connecting-ip': '66.249.84.1', 'user-agent': 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)' },
      },
    );
    const viaProxy = find(await debuggerUntil((es) => !!find(es, proxied)), proxied)!.event;
    expect(viaProxy.context).not.toHaveProperty('ip');
  });
});
