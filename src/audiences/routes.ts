import { and, eq, isNull, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import type { EngageDefinitionRow } from '../db/audiences-schema';
import { profileDirectory } from '../db/profiles-schema';
import { ApiError, badRequest, notFound } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { SEALED_PREFIX } from '../privacy/pii';
import { auditPolledRead, piiReader } from '../privacy/pii-access';
import { sealDefinitionLiterals, sealPreviewTraits, showDefinition } from '../privacy/pii-conditions';
import { loadPii } from '../privacy/pii-guard';
import { backfillProgress, requestBackfill } from './backfill';
import { clearDefinitionCache, storedFromRows } from './cache';
import { compileDefinitions } from './compile';
import { Audience, AudiencePreview, ComputedTrait } from './definitions';
import type { AudienceSnapshot } from './evaluate';
import { checkReferences, referrersOf } from './graph';
import { type EstimateBasis, estimateAudienceSize, PreviewProfile } from './preview';
import {
  deleteDefinition,
  findBackfill,
  findDefinition,
  type Kind,
  listMembers,
  loadDefinitionRows,
  saveDefinition,
  sizeOf,
} from './store';
import { definitionView, invalidDefinition, parseDefinitionBody } from './views';

const read = requireScope('engage:read');
const write = requireScope('engage:write');
const PREVIEW_SAMPLE = 1000;

async function load(d1: D1Database, kind: Kind, key: string): Promise<EngageDefinitionRow> {
  const row = await findDefinition(d1, kind, key);
  if (!row) throw notFound(`${kind === 'audience' ? 'Audience' : 'Computed trait'} ${key}`);
  return row;
}

/** Definition plus back-fill status of its current version (`computing` with a percentage, or `ready`). */
async function withStatus(d1: D1Database, row: EngageDefinitionRow) {
  return { ...definitionView(row), ...backfillProgress(await findBackfill(d1, row.id, row.version)) };
}

async function list(d1: D1Database, kind: Kind) {
  const { rows } = await loadDefinitionRows(d1);
  return Promise.all(rows.filter((r) => r.kind === kind).map((r) => withStatus(d1, r)));
}

// Audience and computed references must exist and must not loop; the stored set is read fresh from D1.
async function checkAudience(d1: D1Database, audience: Pick<Audience, 'key' | 'definition'>) {
  const { revision, rows } = await loadDefinitionRows(d1);
  const others = new Map<string, Pick<Audience, 'key' | 'definition'>>();
  const computed = new Set<string>();
  for (const r of rows) {
    if (r.kind === 'computed_trait') computed.add(r.key);
    else if (r.key !== audience.key) others.set(r.key, { key: r.key, definition: JSON.parse(r.body).definition });
  }
  const issues = checkReferences(audience, others, computed);
  if (issues.length) throw invalidDefinition(issues);
  return { revision, rows };
}

async function save(env: Cloudflare.Env, kind: Kind, input: Audience | ComputedTrait, previous?: EngageDefinitionRow) {
  const { row, backfill } = await saveDefinition(
    env.DB,
    { kind, key: input.key, name: input.name, body: input },
    previous,
  );
  await requestBackfill(env.WORK_QUEUE, backfill);
  clearDefinitionCache();
  return withStatus(env.DB, row);
}

/**
 * Deletes a definition unless an audience still refers to it (409 naming them). Profiles stop
 * showing its result at once (reads follow the current definitions) and drop it at their next
 * evaluation; like Segment, no exit events are sent for a deleted audience.
 */
async function remove(env: Cloudflare.Env, kind: Kind, key: string) {
  const row = await load(env.DB, kind, key);
  const { rows } = await loadDefinitionRows(env.DB);
  const audiences = storedFromRows(rows.filter((r) => r.kind === 'audience')).audiences.map((a) => a.definition);
  const referrers = referrersOf(key, audiences);
  if (referrers.length)
    throw new ApiError(409, 'in_use', `${key} is used by ${referrers.map((k) => `audience ${k}`).join(', ')}`);
  if (!(await deleteDefinition(env.DB, row)))
    throw new ApiError(409, 'conflict', `${key} was changed concurrently; retry`);
  clearDefinitionCache();
}

/** The audience with its PII literals sealed (README, Privacy); a test a sealed trait cannot answer is a 400. */
async function sealedAudience<T extends Pick<Audience, 'definition'>>(env: Cloudflare.Env, input: T): Promise<T> {
  const { definition, issues } = await sealDefinitionLiterals(await loadPii(env), input.definition);
  if (issues.length) throw invalidDefinition(issues);
  return { ...input, definition };
}

/** A view as this caller may see it: sealed literals opened with `pii:read`. */
async function shown<T>(c: Context<AdminEnv>, view: T): Promise<T> {
  const reader = await piiReader(c);
  return showDefinition(reader.pii, reader.clear, view);
}

/**
 * Stored audiences read as this reader may see them. Opening a sealed literal hands PII out in
 * clear, so such a read is audited, naming the audiences, never the values; as a polled read (the
 * console refreshes an audience each second while its back-fill runs).
 */
async function readStored<T extends { id: string }>(c: Context<AdminEnv>, views: T[], target: string): Promise<T[]> {
  const reader = await piiReader(c);
  const out = await showDefinition(reader.pii, reader.clear, views);
  const opened =
    reader.clear && reader.pii.ring ? views.filter((v) => JSON.stringify(v).includes(`"${SEALED_PREFIX}`)) : [];
  if (opened.length) await auditPolledRead(c, target, { audiences: opened.map((v) => v.id) });
  return out;
}

function samePathKey(bodyKey: string, pathKey: string) {
  if (bodyKey !== pathKey)
    throw badRequest(`key "${bodyKey}" does not match the URL (${pathKey}); keys cannot be renamed`);
}

const traitDoc = apiDoc('Computed traits', {
  list: { summary: 'List computed traits with their back-fill status' },
  create: { summary: 'Create a computed trait (back-fills existing profiles)', body: ComputedTrait, status: 201 },
  get: { summary: 'Get a computed trait', errors: [404] },
  replace: { summary: 'Replace a computed trait (a new version, back-filled)', body: ComputedTrait, errors: [404] },
  remove: { summary: 'Delete a computed trait', status: 204, errors: [404, 409] },
});
const audienceDoc = apiDoc('Audiences', {
  list: { summary: 'List audiences with their back-fill status' },
  create: { summary: 'Create an audience (back-fills existing profiles)', body: Audience, status: 201 },
  preview: { summary: 'Estimate the size of an audience definition without saving it', body: AudiencePreview },
  get: { summary: 'Get an audience with its size', errors: [404] },
  replace: { summary: 'Replace an audience (a new version, back-filled)', body: Audience, errors: [404] },
  remove: { summary: 'Delete an audience', status: 204, errors: [404, 409] },
  members: {
    summary: "An audience's members",
    query: { limit: '1–1000 (default 100)', cursor: '`next` of the previous page' },
    errors: [404],
  },
});

/** `/api/computed-traits`: event counters, aggregations, first/last/most-frequent and unique lists. */
export const computedTraitsApi = new Hono<AdminEnv>()
  .get('/', traitDoc.list, read, async (c) => c.json({ data: await list(c.env.DB, 'computed_trait') }))
  .post('/', traitDoc.create, write, async (c) => {
    const input = await parseDefinitionBody(c.req.raw, ComputedTrait);
    return c.json(await save(c.env, 'computed_trait', input), 201);
  })
  .get('/:key', traitDoc.get, read, async (c) =>
    c.json(await withStatus(c.env.DB, await load(c.env.DB, 'computed_trait', c.req.param('key')))),
  )
  .put('/:key', traitDoc.replace, write, async (c) => {
    const previous = await load(c.env.DB, 'computed_trait', c.req.param('key'));
    const input = await parseDefinitionBody(c.req.raw, ComputedTrait);
    samePathKey(input.key, previous.key);
    return c.json(await save(c.env, 'computed_trait', input, previous));
  })
  .delete('/:key', traitDoc.remove, write, async (c) => {
    await remove(c.env, 'computed_trait', c.req.param('key'));
    return c.body(null, 204);
  });

/** `/api/audiences`: definitions, status of their back-fill, members and size, and size previews. */
export const audiencesApi = new Hono<AdminEnv>()
  .get('/', audienceDoc.list, read, async (c) =>
    c.json({ data: await readStored(c, await list(c.env.DB, 'audience'), 'audiences') }),
  )
  .post('/', audienceDoc.create, write, async (c) => {
    const input = await sealedAudience(c.env, await parseDefinitionBody(c.req.raw, Audience));
    await checkAudience(c.env.DB, input);
    return c.json(await shown(c, await save(c.env, 'audience', input)), 201);
  })
  .post('/preview', audienceDoc.preview, write, async (c) => {
    const input = await parseDefinitionBody(c.req.raw, AudiencePreview);
    // "preview" is a reserved key, so the candidate cannot collide with a stored audience.
    const { definition } = await sealedAudience(c.env, input);
    const candidate: Audience = {
      key: 'preview',
      name: 'Preview',
      definition,
      collection: input.collection,
      emit: 'identify',
      destinationIds: [],
      public: false,
    };
    const { revision, rows } = await checkAudience(c.env.DB, candidate);
    const stored = storedFromRows(rows);
    const audiences = [...stored.audiences, { id: 'aud_preview', version: 0, definition: candidate }];
    const set = compileDefinitions({ revision, computedTraits: stored.computedTraits, audiences });
    const sample = input.profiles
      ? await provided(c.env, input.profiles)
      : await directorySample(c.env.DB, input.collection);
    return c.json({ ...estimateAudienceSize(set, 'preview', sample, Date.now()), revision });
  })
  .get('/:key', audienceDoc.get, read, async (c) => {
    const row = await load(c.env.DB, 'audience', c.req.param('key'));
    const view = { ...(await withStatus(c.env.DB, row)), ...(await sizeOf(c.env.DB, row.id)) };
    return c.json((await readStored(c, [view], `audience ${row.key}`))[0]);
  })
  .put('/:key', audienceDoc.replace, write, async (c) => {
    const previous = await load(c.env.DB, 'audience', c.req.param('key'));
    const input = await sealedAudience(c.env, await parseDefinitionBody(c.req.raw, Audience));
    samePathKey(input.key, previous.key);
    await checkAudience(c.env.DB, input);
    return c.json(await shown(c, await save(c.env, 'audience', input, previous)));
  })
  .delete('/:key', audienceDoc.remove, write, async (c) => {
    await remove(c.env, 'audience', c.req.param('key'));
    return c.body(null, 204);
  })
  .get('/:key/members', audienceDoc.members, read, async (c) => {
    const row = await load(c.env.DB, 'audience', c.req.param('key'));
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 100, min: 1, max: 1000 });
    const page = await listMembers(c.env.DB, row.id, limit + 1, c.req.query('cursor') || undefined);
    const data = page.slice(0, limit);
    return c.json({ data, next: page.length > limit ? data[data.length - 1].profileId : null });
  });

/** Example profiles given in clear, their PII traits sealed as profiles keep them (so tags compare). */
async function provided(env: Cloudflare.Env, profiles: unknown[]) {
  const snapshots: AudienceSnapshot[] = profiles.map((p, i) => {
    const parsed = PreviewProfile.safeParse(p);
    if (!parsed.success) {
      throw invalidDefinition(
        parsed.error.issues.map((x) => ({
          path: ['profiles', i, ...(x.path as (string | number)[])],
          message: x.message,
        })),
      );
    }
    return parsed.data as AudienceSnapshot;
  });
  const sealed = await sealPreviewTraits(await loadPii(env), snapshots);
  return { snapshots: sealed, total: sealed.length, basis: 'provided_profiles' as EstimateBasis };
}

// What is available without the Profile DOs: the D1 directory's traits of a random sample of profiles.
async function directorySample(d1: D1Database, collection: string) {
  const db = drizzle(d1);
  const live = and(isNull(profileDirectory.mergedInto), eq(profileDirectory.collection, collection));
  const [count, rows] = await db.batch([
    db.select({ n: sql<number>`count(*)` }).from(profileDirectory).where(live),
    db
      .select({ traits: profileDirectory.traits })
      .from(profileDirectory)
      .where(live)
      .orderBy(sql`random()`)
      .limit(PREVIEW_SAMPLE),
  ]);
  const total = count[0]?.n ?? 0;
  const snapshots = rows.map((r): AudienceSnapshot => ({ traits: JSON.parse(r.traits), events: [] }));
  const basis: EstimateBasis = total === 0 ? 'no_profiles' : 'profile_directory_traits';
  return { snapshots, total, basis };
}
