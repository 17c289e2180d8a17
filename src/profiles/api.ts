import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { requestId } from 'hono/request-id';
import { type AdminEnv, authenticate, requireScope } from '../admin/auth';
import { engageTraits } from '../audiences/profile-values';
import type { Collection } from '../identity/identifiers';
import { ApiError } from '../lib/errors';
import { tokenFrom } from '../lib/http/auth';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { protectRead } from '../privacy/pii-access';
import { findProfileId, readProfile } from './lookup';
import type { ReadQuery } from './rpc';
import {
  type Cursor,
  decodeEventCursor,
  encodeEventCursor,
  eventView,
  externalIdView,
  linkView,
  metadataView,
  traitView,
} from './views';

type Ctx = Context<AdminEnv>;

/** Segment answers bad parameters with `validation_error`. */
const invalid = (message: string) => new ApiError(400, 'validation_error', message);
const profileNotFound = () => new ApiError(404, 'not_found', 'Profile was not found.');

function collectionOf(c: Ctx): Collection {
  const value = c.req.param('collection');
  if (value === 'users' || value === 'accounts') return value;
  throw invalid(`The parameter \`collection\` must be users or accounts, not \`${value}\``);
}

function limitOf(c: Ctx, fallback: number, max: number): number {
  return queryInt(c.req.query('limit'), 'limit', { fallback, min: 1, max }, (m) => invalid(`The parameter ${m}`));
}

const listOf = (c: Ctx, name: string) =>
  (c.req.query(name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function timeOf(c: Ctx, name: string): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return undefined;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw invalid(`The parameter \`${name}\` must be an ISO-8601 date`);
  return t;
}

/** Finds the profile named in the path and reads the requested parts; 404 as Segment when unknown. */
async function load(c: Ctx, q: ReadQuery) {
  const collection = collectionOf(c);
  const id = await findProfileId(c.env, collection, c.req.param('id') ?? '');
  const found = id && (await readProfile(c.env, id, q));
  if (!found) throw profileNotFound();
  return { collection, ...(await protectRead(c, found)) };
}

function cursor(c: Ctx, hasMore: boolean, next: string, limit?: number): Cursor {
  const url = new URL(c.req.url);
  return { url: url.pathname + url.search, has_more: hasMore, next: hasMore ? next : '', ...(limit ? { limit } : {}) };
}

const verboseOf = (c: Ctx) => c.req.query('verbose') === 'true';

/** Segment's `authentication_error`, with a hint that fits the way the token was sent. */
function authenticationError(header: string | undefined): ApiError {
  const scheme = header?.trim().split(/\s+/, 1)[0] ?? '';
  const message = !scheme
    ? 'Authenticate with your access token as the Basic username (curl -u <token>:) or as a Bearer token.'
    : scheme.toLowerCase() === 'basic'
      ? 'The access token sent as the Basic username is not valid (curl -u <token>: sends it with an empty password).'
      : scheme.toLowerCase() === 'bearer'
        ? 'The Bearer access token is not valid.'
        : `The authorization scheme ${scheme.slice(0, 20)} is not supported: send the access token as the Basic username or as a Bearer token.`;
  return new ApiError(401, 'authentication_error', message);
}

/** A valid token or Segment's 401; the scope is checked after, by `requireScope`. */
const authenticateProfileApi = createMiddleware<AdminEnv>(async (c, next) => {
  const header = c.req.header('authorization');
  const principal = await authenticate(c.env, tokenFrom(header));
  if (!principal) {
    c.header('WWW-Authenticate', 'Basic realm="Profile API"');
    throw authenticationError(header);
  }
  c.set('principal', principal);
  await next();
});
const page = { limit: 'Page size', next: '`cursor.next` of the previous page' };
const doc = apiDoc(
  'Profile API',
  {
    traits: {
      summary: "A profile's traits, with computed traits and audiences",
      description:
        'Path: `collection` is users or accounts; `id` is `<kind>:<value>` (e.g. user_id:u1) or a profile id.',
      query: {
        ...page,
        class: 'audience, computed_trait, trait or custom',
        include: 'Comma-separated trait keys',
        verbose: 'true: each value with its source and timestamps',
      },
      errors: [404],
    },
    externalIds: {
      summary: "A profile's identifiers",
      query: { ...page, include: 'Comma-separated kinds', verbose: 'true: with source and timestamps' },
      errors: [404],
    },
    events: {
      summary: "A profile's events",
      query: {
        ...page,
        sort: 'asc or desc (default desc)',
        start: 'ISO-8601 lower bound',
        end: 'ISO-8601 upper bound',
        include: 'Comma-separated event names',
        exclude: 'Comma-separated event names',
      },
      errors: [404],
    },
    metadata: { summary: "A profile's metadata: created, updated, expired", errors: [404] },
    links: { summary: 'Links between the user and account profiles', query: page, errors: [404] },
  },
  'basic',
);

/**
 * Segment's Profile API: `/v1/spaces/:space_id/collections/users|accounts/profiles/:id/…`, same
 * paths, parameters and shapes. Every space id answers (`default` included): one deployment is
 * one space. Every answer, errors included, carries a `Request-Id` header as Segment's does.
 */
export const segmentProfileApi = new Hono<AdminEnv>()
  .use('*', requestId({ headerName: 'Request-Id' }), authenticateProfileApi, requireScope('profiles:read'))
  .get('/:space/collections/:collection/profiles/:id/traits', doc.traits, async (c) => {
    const klass = c.req.query('class');
    if (klass !== undefined && !['audience', 'computed_trait', 'trait', 'custom', ''].includes(klass)) {
      throw invalid('The parameter `class` must be audience or computed_trait');
    }
    const limit = limitOf(c, 10, 200);
    const include = new Set(listOf(c, 'include'));
    const { id, profile } = await load(c, { traits: true });
    const engage = klass === 'audience' || klass === 'computed_trait' ? klass : undefined;
    const custom = engage ? [] : (profile.traits ?? []);
    const computed = klass === 'trait' || klass === 'custom' ? [] : await engageTraits(c.env, id, engage);
    const all = [...custom, ...computed].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const after = c.req.query('next') ?? '';
    const matching = all.filter((t) => (!include.size || include.has(t.key)) && t.key > after);
    const page = matching.slice(0, limit);
    const traits = Object.fromEntries(page.map((t) => [t.key, traitView(t, verboseOf(c))]));
    return c.json({ traits, cursor: cursor(c, matching.length > limit, page.at(-1)?.key ?? '', limit) });
  })
  .get('/:space/collections/:collection/profiles/:id/external_ids', doc.externalIds, async (c) => {
    const limit = limitOf(c, 25, 100);
    const include = new Set(listOf(c, 'include'));
    const { profile, collection } = await load(c, { identifiers: true });
    const after = c.req.query('next') ?? '';
    const matching = (profile.identifiers ?? [])
      .filter((r) => (!include.size || include.has(r.kind)) && r.key > after)
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    const page = matching.slice(0, limit);
    return c.json({
      data: page.map((r) => externalIdView(r, collection, verboseOf(c))),
      cursor: cursor(c, matching.length > limit, page.at(-1)?.key ?? ''),
    });
  })
  .get('/:space/collections/:collection/profiles/:id/events', doc.events, async (c) => {
    const limit = limitOf(c, 10, 100);
    const sort = c.req.query('sort') ?? 'desc';
    if (sort !== 'asc' && sort !== 'desc') throw invalid('The parameter `sort` must be asc or desc');
    const next = c.req.query('next');
    const after = next ? decodeEventCursor(next) : undefined;
    if (next && !after) throw invalid('The parameter `next` is not a cursor this API returned');
    const { id, profile, collection } = await load(c, {
      events: {
        limit: limit + 1,
        asc: sort === 'asc',
        after,
        start: timeOf(c, 'start'),
        end: timeOf(c, 'end'),
        include: listOf(c, 'include'),
        exclude: listOf(c, 'exclude'),
      },
    });
    const rows = profile.events ?? [];
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      data: page.map((r) => eventView(r, id, collection)),
      cursor: cursor(c, rows.length > limit, last ? encodeEventCursor(last.ts, last.messageId) : ''),
    });
  })
  .get('/:space/collections/:collection/profiles/:id/metadata', doc.metadata, async (c) => {
    const { profile } = await load(c, {});
    return c.json({ metadata: metadataView(profile.meta) });
  })
  .get('/:space/collections/:collection/profiles/:id/links', doc.links, async (c) => {
    const limit = limitOf(c, 20, 100);
    const { profile } = await load(c, { links: true });
    const after = c.req.query('next') ?? '';
    const links = (profile.links ?? []).filter((l) => l.key > after).sort((a, b) => (a.key < b.key ? -1 : 1));
    const page = links.slice(0, limit);
    return c.json({ data: page.map(linkView), cursor: cursor(c, links.length > limit, page.at(-1)?.key ?? '') });
  });
