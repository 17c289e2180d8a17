// Every mounted admin and Profile API route, called with an owner token and malformed bodies,
// path parameters and query strings: each answer is a 4xx or 2xx in the error shape, never a 5xx.
import { describe, expect, it } from 'vitest';
import { app } from '../src/app';
import { prng } from '../src/lib/prng';
import { ADMIN, SELF } from './kit/workers';

const routes = [
  ...new Map(
    app.routes
      .filter((r) => r.method !== 'ALL' && (r.path.startsWith('/api/') || r.path.startsWith('/v1/spaces/')))
      .map((r) => [`${r.method} ${r.path}`, r]),
  ).values(),
];

const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const BODIES = [
  '',
  'not json',
  '{',
  'null',
  '[]',
  '"text"',
  '42',
  '{}',
  '{"name":""}',
  '{"name":123,"scopes":"x","rules":{},"settings":[],"filters":7,"definition":null}',
  `{"name":"${'x'.repeat(300_000)}"}`,
  deep(3000),
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}',
  '{"name":"\\ud800","type":"\\u0000"}',
  '{"expiresAt":"not a date","graceSeconds":-5,"limit":1e400}',
];
const PARAMS = ['x', '0', '-1', "'; DROP TABLE sources;--", '%00', '..%2F..%2Fetc', 'a'.repeat(2000), '🙂', 'user_id:'];
const QUERIES = [
  '',
  '?limit=-1',
  '?limit=abc&cursor=zzz',
  '?from=yesterday&to=1e400',
  '?include=' + 'a,'.repeat(500),
  '?verbose=maybe&next=%ZZ',
  '?q=%25%25%25&days=9999999',
];

describe('admin routes under malformed input', () => {
  it('finds the routes', () => expect(routes.length).toBeGreaterThan(60));

  it.each(routes.map((r) => [`${r.method} ${r.path}`, r.method, r.path] as const))('%s', async (_, method, path) => {
    const rand = prng(path.length * 31 + method.length).next;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const tries = hasBody ? BODIES.length : 6;
    for (let i = 0; i < tries; i++) {
      const concrete = path.replace(/:[A-Za-z_]+/g, () =>
        encodeURIComponent(decodeURIComponent(pick(PARAMS).replace(/%(?![0-9A-F]{2})/g, '%25'))),
      );
      const url = `http://tessera.test${concrete}${pick(QUERIES)}`;
      const res = await SELF.fetch(url, { method, headers: ADMIN, body: hasBody ? BODIES[i] : undefined });
      const text = await res.text();
      expect(
        res.status,
        `${method} ${url.slice(0, 200)} body ${hasBody ? BODIES[i].slice(0, 60) : '-'} → ${text.slice(0, 200)}`,
      ).toBeLessThan(500);
      if (res.status >= 400) {
        const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        expect(typeof body.error?.code, text.slice(0, 200)).toBe('string');
        expect(typeof body.error?.message).toBe('string');
      }
    }
  });
});
