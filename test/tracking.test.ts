import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { isPacked } from '../src/ingest/packed';
import {
  basic,
  debuggerUntil as debuggerUntil_,
  type Entry,
  env,
  eventually,
  find,
  getJson,
  makeSource,
  post,
  SELF,
} from './kit/workers';

let source: { id: string; writeKey: string };
let auth: Record<string, string>;

beforeAll(async () => {
  source = await makeSource('Tracking API tests');
  auth = { authorization: basic(source.writeKey) };
});

/** The debugger of this file's source (or another's). */
const debuggerUntil = (pred: (entries: Entry[]) => boolean, sourceId = source.id) => debuggerUntil_(sourceId, pred);

describe('single-event routes', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['track', { event: 'Signed Up', properties: { plan: 'pro' } }],
    ['identify', { traits: { email: 'a@example.com' } }],
    ['page', { name: 'Home' }],
    ['screen', { name: 'Settings' }],
    ['group', { groupId: 'acme', traits: { name: 'Acme' } }],
    ['alias', { previousId: 'anon-1' }],
  ];
  for (const [type, fields] of cases) {
    for (const path of [type, type[0]]) {
      it(`POST /v1/${path} accepts a ${type}`, async () => {
        const messageId = `m-${path}-${crypto.randomUUID()}`;
        const res = await post(`/v1/${path}`, { userId: 'u1', messageId, ...fields }, auth);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ success: true });
        const entries = await debuggerUntil((es) => !!find(es, messageId));
        expect(find(entries, messageId)).toMatchObject({ status: 'accepted', event: { type, userId: 'u1' } });
      });
    }
  }

  it('the path decides the type, whatever the body says', async () => {
    const messageId = `m-${crypto.randomUUID()}`;
    const res = await post('/v1/page', { type: 'track', anonymousId: 'a', messageId }, auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const entries = await debuggerUntil((es) => !!find(es, messageId));
    expect(find(entries, messageId)?.event.type).toBe('page');
  });

  it('numeric ids are accepted and stored as strings, as Segment does', async () => {
    const messageId = `m-${crypto.randomUUID()}`;
    expect((await post('/v1/identify', { userId: 42, messageId }, auth)).status).toBe(200);
    const entries = await debuggerUntil((es) => !!find(es, messageId));
    expect(find(entries, messageId)?.event.userId).toBe('42');
  });
});

describe('authentication', () => {
  it('takes the write key from the body when sent as text/plain (browsers)', async () => {
    const messageId = `m-${crypto.randomUUID()}`;
    const res = await SELF.fetch('http://x/v1/t', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ writeKey: source.writeKey, event: 'E', anonymousId: 'a1', messageId }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const entries = await debuggerUntil((es) => !!find(es, messageId));
    expect(find(entries, messageId)).toMatchObject({ status: 'accepted', event: { type: 'track', event: 'E' } });
  });

  it('accepts both header and body write key', async () => {
    const messageId = `m-${crypto.randomUUID()}`;
    const res = await post('/v1/track', { writeKey: source.writeKey, event: 'E', userId: 'u', messageId }, auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const entries = await debuggerUntil((es) => !!find(es, messageId));
    expect(find(entries, messageId)).toMatchObject({ status: 'accepted', event: { userId: 'u' } });
  });

  it('rejects a missing write key with 401', async () => {
    const res = await post('/v1/track', { event: 'E', userId: 'u' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized', message: expect.any(String) } });
  });

  it('answers 200 to an unknown write key and drops the events (test/sources.test.ts counts them)', async () => {
    const res = await post('/v1/track', { event: 'E', userId: 'u' }, { authorization: basic('wk_nope') });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const bodyKey = await post('/v1/track', { writeKey: 'wk_nope', event: 'E', userId: 'u' });
    expect(await bodyKey.json()).toEqual({ success: true });
    // Dropped, not lost silently: both are counted against the key, none reached a source.
    const counted = await eventually(async () => {
      const { body } = await getJson<{ data: { keyPrefix: string; reason: string; events: number }[] }>(
        '/api/ingest/rejected-keys',
      );
      // A key shows at most half of itself: `wk_nope` is listed as `wk_…`.
      return body.data.find((k) => k.keyPrefix === 'wk_…' && k.events >= 2);
    });
    expect(counted).toMatchObject({ reason: 'unknown', events: 2 });
  });

  it('rejects malformed Basic credentials with 401', async () => {
    const res = await post('/v1/track', { event: 'E', userId: 'u' }, { authorization: 'Basic %%%' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      error: { code: 'unauthorized', message: expect.stringMatching(/Basic/) },
    });
  });

  it('answers the CORS preflight with the headers Segment clients send', async () => {
    const res = await SELF.fetch('http://x/v1/t', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-retry-count',
      },
    });
    expect(res.status).toBeLessThan(300);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['authorization', 'content-type', 'x-retry-count']) expect(allowed).toContain(h);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
  });
});

describe('CORS scope', () => {
  const preflight = (path: string) =>
    SELF.fetch(`http://x${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'GET' },
    });

  it('answers preflights for every collection route, the pixel included', async () => {
    for (const path of ['/v1/batch', '/v1/b', '/v1/import', '/v1/identify', '/v1/pixel/track']) {
      expect((await preflight(path)).headers.get('access-control-allow-origin'), path).toBe('https://shop.example');
    }
  });

  it('answers no preflight elsewhere under /v1: unknown paths, the server-side Profile API', async () => {
    for (const path of ['/v1/nothing-here', '/v1/spaces/default/collections/users/profiles/user_id:u1/traits']) {
      expect((await preflight(path)).headers.get('access-control-allow-origin'), path).toBeNull();
    }
  });
});

describe('validation', () => {
  const bad: [string, string, Record<string, unknown>][] = [
    ['track without event', 'track', { userId: 'u' }],
    ['no userId or anonymousId', 'track', { event: 'E' }],
    ['group without groupId', 'group', { userId: 'u' }],
    ['alias without previousId', 'alias', { userId: 'u' }],
    ['messageId over 100 chars', 'track', { userId: 'u', event: 'E', messageId: 'x'.repeat(101) }],
    ['timestamp that is not a date', 'track', { userId: 'u', event: 'E', timestamp: 'yesterday-ish' }],
    ['properties that are not an object', 'track', { userId: 'u', event: 'E', properties: [1, 2] }],
  ];
  for (const [name, type, body] of bad) {
    it(`400 for ${name}`, async () => {
      const res = await post(`/v1/${type}`, body, auth);
      expect(res.status).toBe(400);
      const json = await res.json<{ error: { code: string; message: string } }>();
      expect(json.error.code).toBe('invalid_event');
      expect(json.error.message.length).toBeGreaterThan(5);
    });
  }

  it('400 invalid_json for a body that is not JSON, and for a JSON array', async () => {
    for (const body of ['{"event": ', '[1,2]', 'null']) {
      const res = await post('/v1/track', body, auth);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
    }
  });

  it('400 for an empty body', async () => {
    const res = await SELF.fetch('http://x/v1/track', { method: 'POST', headers: auth });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'invalid_request', message: 'Request body is empty' } });
  });

  it('413 for an event over 32 KB', async () => {
    const res = await post(
      '/v1/track',
      { userId: 'u', event: 'Big', properties: { blob: 'x'.repeat(33 * 1024) } },
      auth,
    );
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'event_too_large' } });
  });

  it('413 for a request over 500 KB', async () => {
    const batch = Array.from({ length: 20 }, () => ({
      type: 'track',
      userId: 'u',
      event: 'E',
      properties: { p: 'x'.repeat(30 * 1024) },
    }));
    const res = await post('/v1/batch', { batch }, auth);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('413 for a batch over 2,500 events', async () => {
    const batch = Array.from({ length: 2501 }, () => ({ type: 'track', userId: 'u', event: 'E' }));
    const res = await post('/v1/batch', { batch }, auth);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: { code: 'payload_too_large', message: 'A batch holds at most 2500 events' },
    });
  });

  it('400 when `batch` is not an array', async () => {
    const res = await post('/v1/batch', { batch: { type: 'track' } }, auth);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: 'invalid_request', message: expect.stringMatching(/batch/) },
    });
  });
});

describe('gzip bodies', () => {
  const gzip = async (text: string) =>
    new Uint8Array(
      await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer(),
    );

  it('accepts a gzip-compressed batch', async () => {
    const messageId = `gz-${crypto.randomUUID()}`;
    const body = await gzip(JSON.stringify({ batch: [{ type: 'track', event: 'Zipped', userId: 'u', messageId }] }));
    const res = await SELF.fetch('http://x/v1/batch', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    const entries = await debuggerUntil((es) => !!find(es, messageId));
    expect(find(entries, messageId)).toMatchObject({ status: 'accepted', event: { event: 'Zipped', userId: 'u' } });
  });

  it('caps the decompressed size (a small bomb is refused with 413)', async () => {
    const huge = JSON.stringify({
      batch: [{ type: 'track', event: 'E', userId: 'u', properties: { p: 'a'.repeat(600 * 1024) } }],
    });
    const body = await gzip(huge);
    expect(body.byteLength).toBeLessThan(10 * 1024);
    const res = await SELF.fetch('http://x/v1/batch', {
      method: 'POST',
      headers: { ...auth, 'content-encoding': 'gzip' },
      body,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      error: { code: 'payload_too_large', message: expect.stringMatching(/after decompression/) },
    });
  });

  it('400 for a corrupt gzip body', async () => {
    const res = await SELF.fetch('http://x/v1/batch', {
      method: 'POST',
      headers: { ...auth, 'content-encoding': 'gzip' },
      body: new Uint8Array([31, 139, 8, 0, 1, 2, 3, 4, 5, 6, 7]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: 'invalid_request', message: expect.stringMatching(/gzip/) },
    });
  });
});

describe('batches', () => {
  it('accepts valid events, reports invalid ones by index, merges batch-level fields', async () => {
    const tag = crypto.randomUUID();
    const batch = [
      { type: 'track', event: 'Ok', userId: 'u', messageId: `${tag}-0`, context: { page: { path: '/a' } } },
      { type: 'track', userId: 'u', messageId: `${tag}-1` },
      'not an event',
      {
        type: 'identify',
        anonymousId: 'a',
        messageId: `${tag}-3`,
        integrations: { Mixpanel: true },
        sentAt: '2026-01-01T00:00:00.000Z',
      },
      { type: 'wat', userId: 'u' },
    ];
    const res = await post(
      '/v1/b',
      {
        batch,
        context: { library: { name: 'analytics-test', version: '1' }, page: { path: '/batch' } },
        integrations: { All: false },
        sentAt: new Date().toISOString(),
      },
      auth,
    );
    expect(res.status).toBe(200);
    const body = await res.json<{ success: boolean; accepted: number; rejected: { index: number; code: string }[] }>();
    expect(body.success).toBe(true);
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => r.index)).toEqual([1, 2, 4]);
    const entries = await debuggerUntil((es) => !!find(es, `${tag}-0`) && !!find(es, `${tag}-3`));
    const first = find(entries, `${tag}-0`)!.event;
    expect(first.context).toMatchObject({ library: { name: 'analytics-test' }, page: { path: '/a' } });
    expect(first.integrations).toEqual({ All: false });
    expect(first.context.library).toEqual({ name: 'analytics-test', version: '1' });
    const fourth = find(entries, `${tag}-3`)!.event;
    expect(fourth.integrations).toEqual({ All: false, Mixpanel: true });
    expect(fourth.sentAt).toBe('2026-01-01T00:00:00.000Z');
    expect(entries.filter((e) => e.status === 'rejected').length).toBeGreaterThanOrEqual(3);
  });

  it('merges batch-level context deeply: an item context.device keeps the batch device fields', async () => {
    const messageId = `deepctx-${crypto.randomUUID()}`;
    const res = await post(
      '/v1/batch',
      {
        batch: [{ type: 'track', event: 'E', userId: 'u', messageId, context: { device: { id: 'item-device' } } }],
        context: { device: { id: 'batch-device', manufacturer: 'Apple', model: 'iPhone15,2' }, os: { name: 'iOS' } },
      },
      auth,
    );
    expect(res.status).toBe(200);
    const e = find(await debuggerUntil((es) => !!find(es, messageId)), messageId)!.event;
    expect(e.context.device).toEqual({ id: 'item-device', manufacturer: 'Apple', model: 'iPhone15,2' });
    expect(e.context.os).toEqual({ name: 'iOS' });
  });

  it('/v1/import accepts historical batches', async () => {
    const messageId = `imp-${crypto.randomUUID()}`;
    const res = await post(
      '/v1/import',
      { batch: [{ type: 'track', event: 'Old', userId: 'u', messageId, timestamp: '2020-05-05T10:00:00.000Z' }] },
      auth,
    );
    expect(res.status).toBe(200);
    const e = find(await debuggerUntil((es) => !!find(es, messageId)), messageId)!.event;
    expect(e.timestamp).toBe('2020-05-05T10:00:00.000Z');
  });

  it('an event over 32 KB inside a batch is reported, the others accepted', async () => {
    const res = await post(
      '/v1/batch',
      {
        batch: [
          { type: 'track', userId: 'u', event: 'E' },
          { type: 'track', userId: 'u', event: 'Big', properties: { b: 'x'.repeat(33 * 1024) } },
        ],
      },
      auth,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: 'event_too_large' }] });
  });
});

describe('enrichment', () => {
  it('adds messageId, receivedAt, originalTimestamp, skew-corrected timestamp and ip; keeps library', async () => {
    const anonymousId = `anon-${crypto.randomUUID()}`;
    // The client's clock runs one hour ahead.
    const clientNow = Date.now() + 3_600_000;
    const originalTimestamp = new Date(clientNow - 5_000).toISOString();
    const before = Date.now();
    const res = await post(
      '/v1/track',
      {
        anonymousId,
        event: 'Skewed',
        timestamp: originalTimestamp,
        sentAt: new Date(clientNow).toISOString(),
        context: { library: { name: 'analytics.js', version: '2.1.0' } },
      },
      { ...auth, 'cf-connecting-ip': '203.0.113.9' },
    );
    expect(res.status).toBe(200);
    const entries = await debuggerUntil((es) => es.some((e) => e.event.anonymousId === anonymousId));
    const e = entries.find((x) => x.event.anonymousId === anonymousId)!.event;
    expect(typeof e.messageId).toBe('string');
    expect(e.originalTimestamp).toBe(originalTimestamp);
    const received = Date.parse(e.receivedAt as string);
    expect(received).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(e.timestamp as string)).toBe(received - 5_000);
    expect(e.context.ip).toBe('203.0.113.9');
    expect(e.context.library).toEqual({ name: 'analytics.js', version: '2.1.0' });
  });

  it('stamps no ip on server-side events (server SDKs, curl), unless they say context.direct', async () => {
    const tag = crypto.randomUUID();
    const headers = { ...auth, 'cf-connecting-ip': '203.0.113.9' };
    const server = { type: 'track', event: 'Backend', userId: 'u', messageId: `${tag}-server` };
    await post('/v1/track', { ...server, context: { library: { name: 'analytics-node', version: '3.1.0' } } }, headers);
    await post('/v1/track', { ...server, messageId: `${tag}-curl` }, headers);
    await post('/v1/track', { ...server, messageId: `${tag}-direct`, context: { direct: true } }, headers);
    const entries = await debuggerUntil((es) => ['server', 'curl', 'direct'].every((k) => !!find(es, `${tag}-${k}`)));
    expect(find(entries, `${tag}-server`)!.event.context).not.toHaveProperty('ip');
    expect(find(entries, `${tag}-curl`)!.event.context).not.toHaveProperty('ip');
    expect(find(entries, `${tag}-direct`)!.event.context.ip).toBe('203.0.113.9');
  });

  it('normalises timestamp, originalTimestamp and sentAt to UTC ISO-8601 with Z', async () => {
    const messageId = `ts-${crypto.randomUUID()}`;
    const res = await post(
      '/v1/batch',
      {
        batch: [{ type: 'track', event: 'E', userId: 'u', messageId, timestamp: '2026-03-01T10:00:00+02:00' }],
        sentAt: '2026-03-01T03:00:05-0500',
      },
      auth,
    );
    expect(res.status).toBe(200);
    const e = find(await debuggerUntil((es) => !!find(es, messageId)), messageId)!.event;
    expect(e.originalTimestamp).toBe('2026-03-01T08:00:00.000Z');
    expect(e.sentAt).toBe('2026-03-01T08:00:05.000Z');
    // Skew correction works on the normalised instants: sent 5 s after it happened.
    expect(Date.parse(e.receivedAt as string) - Date.parse(e.timestamp as string)).toBe(5_000);
    const dateOnly = `ts-${crypto.randomUUID()}`;
    await post(
      '/v1/import',
      { batch: [{ type: 'track', event: 'Old', userId: 'u', messageId: dateOnly, timestamp: '2012-12-02' }] },
      auth,
    );
    expect(find(await debuggerUntil((es) => !!find(es, dateOnly)), dateOnly)!.event.timestamp).toBe(
      '2012-12-02T00:00:00.000Z',
    );
  });

  it('keeps an ip the client sent', async () => {
    const anonymousId = `anon-${crypto.randomUUID()}`;
    await post(
      '/v1/page',
      { anonymousId, context: { ip: '198.51.100.1' } },
      { ...auth, 'cf-connecting-ip': '203.0.113.9' },
    );
    const entries = await debuggerUntil((es) => es.some((e) => e.event.anonymousId === anonymousId));
    expect(entries.find((x) => x.event.anonymousId === anonymousId)!.event.context.ip).toBe('198.51.100.1');
  });
});

describe('debugger', () => {
  it('keeps only the last 100 events of a source', async () => {
    const s = await makeSource('Busy');
    const tag = crypto.randomUUID();
    const batch = Array.from({ length: 130 }, (_, i) => ({
      type: 'track',
      event: 'E',
      userId: 'u',
      messageId: `${tag}-${i}`,
    }));
    expect((await post('/v1/batch', { batch }, { authorization: basic(s.writeKey) })).status).toBe(200);
    const entries = await debuggerUntil((es) => !!find(es, `${tag}-129`), s.id);
    expect(entries).toHaveLength(100);
    expect(entries[0].event.messageId).toBe(`${tag}-129`);
    expect(entries[99].event.messageId).toBe(`${tag}-30`);
  });
});

describe('durability', () => {
  /** Runs the real app with a queue binding that fails or records, to see what the client is told. */
  async function callWithQueue(queue: Queue, body: unknown) {
    const ctx = createExecutionContext();
    const req = new Request('http://x/v1/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(source.writeKey) },
      body: JSON.stringify(body),
    });
    const res = await app.fetch(req, { ...env, INGEST_QUEUE: queue }, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  }

  it('answers 5xx when the queue refuses, so Segment clients retry', async () => {
    const failing = {
      send: async () => Promise.reject(new Error('queue down')),
      sendBatch: async () => Promise.reject(new Error('queue down')),
    } as unknown as Queue;
    const res = await callWithQueue(failing, { batch: [{ type: 'track', event: 'E', userId: 'u' }] });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'unavailable' } });
  });

  it('sends 2,500 events packed in messages and chunks within the queue limits, before answering', async () => {
    const calls: number[] = [];
    let sent = 0;
    const recording = {
      sendBatch: async (msgs: MessageSendRequest[]) => {
        calls.push(msgs.length);
        expect(JSON.stringify(msgs).length).toBeLessThan(256 * 1024);
        for (const m of msgs) expect(JSON.stringify(m.body).length).toBeLessThan(128 * 1024);
        await env.INGEST_QUEUE.sendBatch(msgs);
        sent += msgs.reduce((n, m) => n + (isPacked(m.body) ? m.body.packed.length : 1), 0);
      },
    } as unknown as Queue;
    // One user: the point is the chunking, not 2,500 profiles for the pipeline to build after the test.
    const batch = Array.from({ length: 2500 }, (_, i) => ({
      type: 'track',
      event: 'E',
      userId: 'bulk-user',
      properties: { i },
    }));
    const res = await callWithQueue(recording, { batch });
    expect(res.status).toBe(200);
    expect(sent).toBe(2500);
    expect(Math.max(...calls)).toBeLessThanOrEqual(100);
    expect(calls.reduce((a, b) => a + b, 0)).toBeLessThan(2500 / 20); // packed, not a message per event
  });
});

describe('analytics.js quirks', () => {
  it('treats `"userId": null` (anonymous browsers) as absent', async () => {
    const messageId = `null-${crypto.randomUUID()}`;
    const res = await post('/v1/p', { writeKey: source.writeKey, userId: null, anonymousId: 'anon-null', messageId });
    expect(res.status).toBe(200);
    const e = find(await debuggerUntil((es) => !!find(es, messageId)), messageId)!.event;
    expect('userId' in e && e.userId !== undefined).toBe(false);
    const onlyNull = await post('/v1/p', { writeKey: source.writeKey, userId: null });
    expect(onlyNull.status).toBe(400);
  });
});
