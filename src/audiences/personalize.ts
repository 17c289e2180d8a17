import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { writeKeyOf } from '../ingest/routes';
import { sourceForWriteKey } from '../ingest/sources';
import { badRequest, unauthorized } from '../lib/errors';
import { findProfileId } from '../profiles/lookup';
import { getDefinitions } from './cache';
import { publicKeys, publicValues, readAudienceValues } from './profile-values';

type Env = { Bindings: Cloudflare.Env };
const MAX_ID_CHARS = 1000;

function idParam(c: Context<Env>, name: 'userId' | 'anonymousId'): string | undefined {
  const all = c.req.queries(name) ?? [];
  if (all.length > 1) throw badRequest(`Pass \`${name}\` once`);
  const value = all[0]?.trim();
  if (value && value.length > MAX_ID_CHARS) throw badRequest(`\`${name}\` is at most ${MAX_ID_CHARS} characters`);
  return value || undefined;
}

/**
 * `GET /v1/personalize?writeKey=…&anonymousId=…|userId=…` (the write key also as the Basic user):
 * the visitor's audiences and computed traits that are marked `public`, read from the Profile
 * object, so a page or an edge Worker can personalize on the first request. Nothing else is ever
 * read: the object is asked for public keys only, and the answer is built from public definitions.
 * An unknown visitor gets the same shape with every audience false, so existence does not leak.
 */
export const personalizeApi = new Hono<Env>()
  .use('*', cors({ origin: (o) => o || '*', allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['Authorization'] }))
  .get('/', async (c) => {
    const writeKey = writeKeyOf(c.req.raw, {}) ?? c.req.query('writeKey');
    if (!writeKey) throw unauthorized('Missing write key: pass `writeKey` or send it as the Basic username');
    const source = await sourceForWriteKey(c.env.DB, writeKey);
    if (!source) throw unauthorized('Unknown or disabled write key');
    const userId = idParam(c, 'userId');
    const anonymousId = idParam(c, 'anonymousId');
    if (!userId && !anonymousId) throw badRequest('Pass the visitor as `anonymousId` or `userId`');

    const set = await getDefinitions(c.env.DB, { collection: 'users' });
    const keys = publicKeys(set);
    let found: Awaited<ReturnType<typeof readAudienceValues>>;
    if (keys.length) {
      const refs = [userId && `user_id:${userId}`, anonymousId && `anonymous_id:${anonymousId}`];
      for (const ref of refs) {
        const id = ref ? await findProfileId(c.env, 'users', ref) : undefined;
        found = id ? await readAudienceValues(c.env, id, keys) : undefined;
        if (found) break;
      }
    }
    c.header('cache-control', 'private, no-store');
    return c.json(publicValues(set, found?.values ?? []));
  });
