import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../destinations/errors';
import { classify, perform } from './perform';

const answer = (status: number, headers: Record<string, string> = {}, body = '') => ({
  status,
  headers: new Headers(headers),
  body,
});
const req = { method: 'POST' as const, url: 'https://vendor.example/track', headers: {}, body: '{}' };
const opts = { timeoutMs: 200, allowLoopback: false };

describe('classification of vendor answers', () => {
  it('2xx delivered; 408, 429 and 5xx retryable; redirects and other 4xx permanent', () => {
    for (const s of [200, 201, 202, 204]) expect(classify(answer(s), 0)).toBeUndefined();
    for (const s of [408, 429, 500, 502, 503, 504]) expect(classify(answer(s), 0)).toBeInstanceOf(RetryableError);
    for (const s of [301, 302, 400, 401, 403, 404, 410, 413, 422])
      expect(classify(answer(s), 0)).toBeInstanceOf(PermanentError);
  });

  it('keeps Retry-After, the status and the vendor answer; says what happens next', () => {
    const err = classify(answer(429, { 'retry-after': '7' }, '{"error":"slow down"}'), 0) as RetryableError;
    expect(err.retryAfterMs).toBe(7000);
    expect(err.status).toBe(429);
    expect(err.response).toBe('{"error":"slow down"}');
    expect(err.message).toMatch(/retry/);
    expect(classify(answer(401), 0)?.message).toMatch(/credentials/);
  });
});

describe('perform', () => {
  it('delivers on 2xx and returns the answer', async () => {
    const r = await perform(req, { ...opts, fetch: async () => new Response('ok', { status: 200 }) });
    expect(r).toMatchObject({ ok: true, status: 200, body: 'ok' });
  });

  it('times out a hanging vendor as retryable', async () => {
    const hang: typeof fetch = (_i, init) =>
      new Promise((_r, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    const r = await perform(req, { ...opts, fetch: hang });
    expect(r).toMatchObject({ ok: false, failure: 'timeout' });
    expect(r.ok ? null : r.error).toBeInstanceOf(RetryableError);
  });

  it('treats resets and other network errors as retryable', async () => {
    const reset: typeof fetch = async () => {
      throw new TypeError('Network connection lost.');
    };
    const r = await perform(req, { ...opts, fetch: reset });
    expect(r).toMatchObject({ ok: false, failure: 'network' });
    expect(r.ok ? '' : r.error.message).toMatch(/Network connection lost/);
  });

  it('never follows redirects and refuses guarded URLs before any request', async () => {
    let called = 0;
    const f: typeof fetch = async (_i, init) => {
      called++;
      expect(init?.redirect).toBe('manual');
      return new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/' } });
    };
    const redirected = await perform(req, { ...opts, fetch: f });
    expect(redirected.ok ? null : redirected.error).toBeInstanceOf(PermanentError);
    const refused = await perform({ ...req, url: 'http://10.0.0.1/' }, { ...opts, fetch: f });
    expect(refused).toMatchObject({ ok: false, failure: 'refused' });
    expect(called).toBe(1);
  });

  it('reads errors reported in a 2xx body as permanent', async () => {
    const r = await perform(req, {
      ...opts,
      fetch: async () => new Response('{"status":0,"error":"invalid token"}'),
      bodyError: (a) => (a.body.includes('"status":0') ? 'invalid token' : undefined),
    });
    expect(r.ok ? null : r.error).toBeInstanceOf(PermanentError);
    expect(r.ok ? '' : r.error.message).toMatch(/invalid token/);
  });
});
