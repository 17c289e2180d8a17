import { beforeAll, describe, expect, it } from 'vitest';
import {
  basic,
  debuggerUntil as debuggerUntil_,
  type Entry,
  makeSource,
  post,
  uniq,
  waitForEvents,
} from './kit/workers';

/**
 * Hostile input at the collection edge (issue 16): whatever a holder of the public write key
 * sends, the answer is a clear 4xx for what cannot be stored, never a 2xx that later poisons the
 * queue consumer, and never a 5xx that SDKs retry forever.
 */

let source: { id: string; writeKey: string };
let auth: Record<string, string>;

beforeAll(async () => {
  source = await makeSource('Hostile input');
  auth = { authorization: basic(source.writeKey) };
});

/** JSON text nested `n` levels deep: objects (`{"a":{"a":…}}`) or arrays (`[[…]]`). */
const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const deepArray = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

const debuggerUntil = (pred: (entries: Entry[]) => boolean) => debuggerUntil_(source.id, pred);

describe('nesting depth', () => {
  it('an event nested 2,500 levels deep (15 KB) is a 400 on /v1/track, and shows as rejected', async () => {
    const messageId = uniq('deep');
    const body = `{"userId":"u","event":"Deep","messageId":"${messageId}","properties":{"a":${deepObject(2500)}}}`;
    expect(body.length).toBeLessThan(32 * 1024);
    const res = await post('/v1/track', body, auth);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: 'nesting_too_deep', message: 'properties: nested deeper than 64 levels' },
    });
    const entries = await debuggerUntil((es) => es.some((e) => e.event.messageId === messageId));
    expect(entries.find((e) => e.event.messageId === messageId)).toMatchObject({
      status: 'rejected',
      error: { code: 'nesting_too_deep' },
      event: { event: 'Deep', properties: '[omitted: cannot be serialised]' },
    });
  });

  it('arrays nested 10,000 deep are a 400, not a 503 that SDKs retry forever', async () => {
    for (const field of ['properties', 'context', 'integrations', 'anything']) {
      const body = `{"userId":"u","event":"E","${field}":{"x":${deepArray(10_000)}}}`;
      const res = await post('/v1/track', body, auth);
      expect(res.status, field).toBe(400);
      expect(await res.json(), field).toMatchObject({ error: { code: 'nesting_too_deep' } });
    }
    const identify = await post('/v1/identify', `{"userId":"u","traits":{"t":${deepArray(70)}}}`, auth);
    expect(identify.status).toBe(400);
  });

  it('inside a batch the deep items are rejected by index and the valid ones reach their profiles', async () => {
    const users = [uniq('ok'), uniq('ok'), uniq('ok')];
    const valid = (userId: string) => ({ type: 'track', event: 'Fine', userId, properties: { nested: { a: [1] } } });
    const text = `{"batch":[${[
      JSON.stringify(valid(users[0])),
      `{"type":"track","event":"Deep","userId":"${users[0]}","properties":${deepObject(2500)}}`,
      JSON.stringify(valid(users[1])),
      `{"type":"identify","userId":"${users[1]}","context":{"x":${deepArray(10_000)}}}`,
      `{"type":"group","groupId":"g","userId":"${users[2]}","traits":${deepObject(65)}}`,
      JSON.stringify(valid(users[2])),
    ].join(',')}]}`;
    const res = await post('/v1/batch', text, auth);
    expect(res.status).toBe(200);
    const body = await res.json<{ accepted: number; rejected: { index: number; code: string }[] }>();
    expect(body.accepted).toBe(3);
    expect(body.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'nesting_too_deep'],
      [3, 'nesting_too_deep'],
      [4, 'nesting_too_deep'],
    ]);
    for (const user of users) await waitForEvents(`user_id:${user}`, 1);
    // The debugger write (a structured clone) survives the batch too.
    await debuggerUntil((es) => es.some((e) => e.event.userId === users[2] && e.status === 'accepted'));
  });

  it('a batch-level context too deep for any item refuses the request', async () => {
    const text = `{"batch":[{"type":"track","event":"E","userId":"u"}],"context":${deepObject(3000)}}`;
    const res = await post('/v1/batch', text, auth);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: 'nesting_too_deep', message: expect.stringContaining('batch-level context') },
    });
  });
});

describe('values that cannot be stored as sent', () => {
  it('a number beyond float64 (1e400 parses as Infinity, stored as null) is a 400', async () => {
    const res = await post('/v1/track', '{"userId":"u","event":"E","properties":{"price":1e400}}', auth);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_number' } });
    const batch = await post(
      '/v1/batch',
      '{"batch":[{"type":"track","event":"E","userId":"u","properties":{"p":-1e999}}]}',
      auth,
    );
    expect(await batch.json()).toMatchObject({ accepted: 0, rejected: [{ index: 0, code: 'invalid_number' }] });
  });

  it('a lone UTF-16 surrogate (a truncated emoji) is stored as U+FFFD, so it reads back as it is kept', async () => {
    const messageId = uniq('surrogate');
    const user = uniq('user');
    const res = await post(
      '/v1/track',
      `{"userId":"${user}\\ud83d","event":"Caf\\u00e9 \\ud83d","messageId":"${messageId}","properties":{"t\\udc00":"x\\ud800"}}`,
      auth,
    );
    expect(res.status).toBe(200);
    const entries = await debuggerUntil((es) => es.some((e) => e.event.messageId === messageId));
    const event = entries.find((e) => e.event.messageId === messageId)!.event;
    expect(event.event).toBe('Café \ufffd');
    expect(event.properties).toEqual({ 't\ufffd': 'x\ufffd' });
    await waitForEvents(`user_id:${user}\ufffd`, 1);
  });
});

describe('queue limits', () => {
  it('valid events of multibyte text are queued in chunks under 256 KB of UTF-8, not answered 503', async () => {
    const user = uniq('euro');
    const batch = Array.from({ length: 15 }, () => ({
      type: 'track',
      event: 'Euro',
      userId: user,
      properties: { text: '€'.repeat(10_000) },
    }));
    const res = await post('/v1/batch', { batch }, auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    await waitForEvents(`user_id:${user}`, 15);
  });
});

describe('batch amplification', () => {
  it('a small batch whose context is copied into every item beyond 4× the body limit is a 413', async () => {
    const context = { library: { name: 'analytics.js' }, padding: 'x'.repeat(30 * 1024) };
    const batch = Array.from({ length: 100 }, () => ({ type: 'track', event: 'E', userId: 'amplified' }));
    const text = JSON.stringify({ batch, context });
    expect(text.length).toBeLessThan(40 * 1024);
    const res = await post('/v1/batch', text, auth);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({
      error: { code: 'payload_too_large', message: expect.stringContaining('expands') },
    });
  });

  it('the same context on fewer items stays within the bound and is accepted', async () => {
    const context = { padding: 'x'.repeat(30 * 1024) };
    const batch = Array.from({ length: 20 }, () => ({ type: 'track', event: 'E', userId: 'amplified' }));
    const res = await post('/v1/batch', { batch, context }, auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
  });
});

describe('poison mixed into concurrent valid traffic', () => {
  it('every poison request is a 4xx, every valid event reaches its profile, nothing answers 5xx', async () => {
    const users = Array.from({ length: 16 }, () => uniq('mixed'));
    const valid = users.flatMap((userId) => [
      () => post('/v1/track', { userId, event: 'Valid', properties: { n: 1 } }, auth),
      () => post('/v1/batch', { batch: [{ type: 'identify', userId, traits: { plan: 'pro' } }] }, auth),
    ]);
    const poison = [
      () => post('/v1/track', `{"userId":"p","event":"P","properties":${deepObject(2500)}}`, auth),
      () => post('/v1/identify', `{"userId":"p","context":{"x":${deepArray(10_000)}}}`, auth),
      () => post('/v1/track', '{"userId":"p","event":"P","properties":{"n":1e400}}', auth),
      () =>
        post('/v1/batch', `{"batch":[{"type":"track","event":"P","userId":"p"}],"context":${deepObject(500)}}`, auth),
      () =>
        post(
          '/v1/batch',
          {
            batch: Array.from({ length: 100 }, () => ({ type: 'track', event: 'P', userId: 'p' })),
            context: { pad: 'x'.repeat(30_000) },
          },
          auth,
        ),
      () => post('/v1/page', `{"anonymousId":"p","properties":${deepArray(64)}}`, auth),
    ];
    // Interleave: a poison request every few valid ones, all in flight at once.
    const calls = [...valid];
    poison.forEach((p, i) => {
      calls.splice(i * 6, 0, p);
    });
    const answers = await Promise.all(calls.map((call) => call()));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s >= 400).sort()).toEqual([400, 400, 400, 400, 400, 413]);
    await Promise.all(users.map((user) => waitForEvents(`user_id:${user}`, 2, 25_000)));
  }, 30_000);
});
