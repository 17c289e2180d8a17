import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { writeKeyOf } from '../ingest/routes';
import { sourceForWriteKey } from '../ingest/sources';
import { badRequest, forbidden, unauthorized } from '../lib/errors';
import { findProfileId, readProfile } from '../profiles/lookup';
import type { EngageValue } from '../profiles/rpc';
import { getDefinitions } from './cache';
import { verifyPersonalizeToken } from './personalize-token';
import { publicKeys, publicValues, readAudienceValues } from './profile-values';

type Env = { Bindings: Cloudflare.Env };
const MAX_ID_CHARS = 1000;
/** Objects that hold nothing, read in place of an unknown visitor's profile (see `visitorValues`). */
const DECOYS = 8;

function param(c: Context<Env>, name: 'userId' | 'anonymousId' | 'token'): string | undefined {
  const all = c.req.queries(name) ?? [];
  if (all.length > 1) throw badRequest(`Pass \`${name}\` once`);
  const value = all[0]?.trim();
  if (value && value.length > MAX_ID_CHARS) throw badRequest(`\`${name}\` is at most ${MAX_ID_CHARS} characters`);
  return value || undefined;
}

function decoyFor(ref: string): string {
  let h = 0;
  for (let i = 0; i < ref.length; i++) h = (h * 31 + ref.charCodeAt(i)) >>> 0;
  return `personalize-decoy-${h % DECOYS}`;
}

/**
 * The stored values of the visitor `ref`, empty when unknown. Known and unknown visitors cost the
 * same round trips (an index lookup, then the profile's reads side by side), an unknown one reading a
 * decoy object that holds nothing, so neither the answer nor its timing tells whether an id exists.
 * With `anonymousOnly`, a profile that carries a userId answers as unknown: an anonymousId (a
 * cookie value that may leak, e.g. in a shared link) never opens an identified user's values.
 */
async function visitorValues(env: Env['Bindings'], ref: string, keys: string[], anonymousOnly: boolean) {
  const id = await findProfileId(env, 'users', ref);
  const target = id ?? decoyFor(ref);
  // Both reads follow merges on their own, so they run side by side; a userId needs no identifier check.
  const [read, found] = await Promise.all([
    anonymousOnly ? readProfile(env, target, { identifiers: true }) : undefined,
    readAudienceValues(env, target, keys),
  ]);
  const none: EngageValue[] = [];
  if (!id || !found) return none;
  if (anonymousOnly && (!read || read.profile.identifiers?.some((i) => i.kind === 'user_id'))) return none;
  return found.values;
}

const TOKEN_ERRORS = {
  malformed: 'is malformed (expected v1.<exp>.<signature>)',
  bad_signature: 'does not match this userId',
  expired: 'has expired',
  too_long: 'expires too far ahead (at most 7 days)',
} as const;

/**
 * `GET /v1/personalize?writeKey=…&anonymousId=…` or `…&userId=…&token=…` (the write key also as
 * the Basic user): the visitor's public audiences and computed traits, read from the Profile
 * object, so a page or an edge Worker can personalize on the first request.
 * - An identified user needs `token`, signed by the customer's backend with the source's
 *   personalize secret (`personalize-token.ts`): the write key is public, a userId guessable.
 * - An anonymousId answers only while its profile is anonymous.
 * - Only public definitions are read, and an audience only if everything it uses is public.
 * - Unknown and known visitors get the same shape (unknown: every audience false).
 */
export const personalizeApi = new Hono<Env>()
  .use('*', cors({ origin: (o) => o || '*', allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['Authorization'] }))
  .get('/', async (c) => {
    const writeKey = writeKeyOf(c.req.raw, {}) ?? c.req.query('writeKey');
    if (!writeKey) throw unauthorized('Missing write key: pass `writeKey` or send it as the Basic username');
    const source = await sourceForWriteKey(c.env.DB, writeKey);
    if (!source) throw unauthorized('Unknown or disabled write key');
    const userId = param(c, 'userId');
    const anonymousId = param(c, 'anonymousId');
    const token = param(c, 'token');
    if (!userId && !anonymousId) throw badRequest('Pass the visitor as `anonymousId` or `userId`');
    if (userId) {
      if (!source.personalizeSecret) {
        throw forbidden(
          'Personalization by userId is off for this source: create a personalize secret (POST /api/sources/:id/personalize-secret)',
        );
      }
      if (!token) throw unauthorized('`userId` needs a `token` signed with the source’s personalize secret');
      const check = await verifyPersonalizeToken(source.personalizeSecret, userId, token);
      if (!check.ok) throw unauthorized(`The personalize token ${TOKEN_ERRORS[check.reason]}`);
    }

    const set = await getDefinitions(c.env.DB, { collection: 'users' });
    const keys = publicKeys(set);
    const values = !keys.length
      ? []
      : userId
        ? await visitorValues(c.env, `user_id:${userId}`, keys, false)
        : await visitorValues(c.env, `anonymous_id:${anonymousId}`, keys, true);
    c.header('cache-control', 'private, no-store');
    return c.json(publicValues(set, values));
  });
