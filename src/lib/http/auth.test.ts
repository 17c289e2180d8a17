import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { onError, unauthorized } from '../errors';
import { type ScopedEnv, scopeGuard, tokenFrom } from './auth';
import { parseJson } from './body';

type Who = { name: string; scopes: string[] };
type E = ScopedEnv<Who, 'a:read' | 'a:write'>;

const requireScope = scopeGuard<Who, 'a:read' | 'a:write', E>({
  principalOf: async (c) => {
    const t = tokenFrom(c.req.header('authorization'));
    if (!t) throw unauthorized();
    return { name: t, scopes: t.split('+') };
  },
  grants: (p, s) => p.scopes.includes(s),
});

const app = new Hono<E>()
  .post('/', requireScope('a:write'), async (c) => {
    const body = await parseJson(c.req.raw, z.object({ n: z.number() }), 20);
    return c.json({ n: body.n, scope: c.get('requiredScope') });
  })
  .onError(onError);

const post = (auth: string | undefined, body: string) =>
  app.request('/', { method: 'POST', body, headers: auth ? { authorization: auth } : {} });

describe('scopeGuard and parseJson', () => {
  it('answers 401 without a principal, 403 without the scope, and records the scope it checked', async () => {
    expect((await post(undefined, '{"n":1}')).status).toBe(401);
    expect((await post('Bearer a:read', '{"n":1}')).status).toBe(403);
    const ok = await post('Bearer a:read+a:write', '{"n":1}');
    expect(await ok.json()).toEqual({ n: 1, scope: 'a:write' });
  });

  it('reads a Basic token as its username, Segment-style', () => {
    expect(tokenFrom(`Basic ${btoa('tok:')}`)).toBe('tok');
    expect(tokenFrom('Digest x')).toBeUndefined();
  });

  it('answers bad bodies with the 4xx that says why', async () => {
    const code = async (body: string) =>
      ((await (await post('Bearer a:write', body)).json()) as { error: { code: string } }).error.code;
    expect(await code('{')).toBe('invalid_json');
    expect(await code('{"n":"x"}')).toBe('invalid_request');
    expect(await code(`{"n":1,"pad":"${'x'.repeat(30)}"}`)).toBe('payload_too_large');
  });
});
