import { Hono } from 'hono';
import { z } from 'zod';
import type { ApiTokenRow } from '../db/schema';
import { forbidden, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { type AdminEnv, requireScope } from './auth';
import { grants, SCOPES } from './scopes';
import { createToken, listTokens, revokeToken } from './token-store';

export const CreateToken = z.strictObject({
  name: z.string().trim().min(1).max(200).describe('Who or what uses the token, e.g. "CI deploys"'),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length).describe('What the token may do'),
  expiresAt: z.iso
    .datetime({ offset: true })
    .optional()
    .refine((v) => v === undefined || Date.parse(v) > Date.now(), 'must be in the future')
    .describe('When the token stops working (ISO-8601); never when absent'),
});

/** How a token is shown: never its secret or hash. */
export function tokenView(t: ApiTokenRow) {
  return {
    id: t.id,
    name: t.name,
    prefix: t.prefix,
    scopes: t.scopes,
    createdAt: t.createdAt,
    lastUsedAt: t.lastUsedAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
  };
}

const doc = apiDoc('Tokens', {
  list: { summary: 'List API tokens (never their secrets)' },
  scopes: { summary: 'Every scope a token may carry, and which of them the caller may grant' },
  create: { summary: 'Create a scoped token; the secret is in this answer only', body: CreateToken, status: 201 },
  revoke: { summary: 'Revoke a token at once', errors: [404] },
});

/** `/api/tokens`: scoped API tokens. A token can only hand out scopes it holds itself. */
export const tokensApi = new Hono<AdminEnv>()
  .get('/', doc.list, requireScope('tokens:write'), async (c) =>
    c.json({ data: (await listTokens(c.env.DB)).map(tokenView) }),
  )
  .get('/scopes', doc.scopes, requireScope('tokens:write'), (c) => {
    const held = c.get('principal').scopes;
    return c.json({ data: SCOPES.map((scope) => ({ scope, grantable: grants(held, scope) })) });
  })
  .post('/', doc.create, requireScope('tokens:write'), async (c) => {
    const input = await parseJson(c.req.raw, CreateToken);
    const principal = c.get('principal');
    const beyond = input.scopes.filter((s) => !grants(principal.scopes, s));
    if (beyond.length) throw forbidden(`A token cannot grant scopes it does not hold: ${beyond.join(', ')}`);
    const { row, secret } = await createToken(c.env.DB, { ...input, createdBy: principal.id });
    return c.json({ ...tokenView(row), token: secret }, 201);
  })
  .delete('/:id', doc.revoke, requireScope('tokens:write'), async (c) => {
    const row = await revokeToken(c.env.DB, c.req.param('id'));
    if (!row) throw notFound(`Token ${c.req.param('id')}`);
    return c.json(tokenView(row));
  });
