import { and, desc, eq, isNull, or, sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { type DirectoryRow, profileDirectory } from '../db/profiles-schema';
import type { Collection } from '../identity/identifiers';
import { badRequest, notFound } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';
import { queryInt } from '../lib/http/query';
import { maskValue } from '../privacy/pii';
import {
  auditPiiRead,
  blindTerms,
  type PiiReader,
  piiReader,
  protectRead,
  protectTraits,
  showIdentifier,
} from '../privacy/pii-access';
import { findProfileId, readProfile } from './lookup';
import { eventView, metadataView } from './views';

const RECENT_EVENTS = 20;

/** A directory row as the caller may see it: sealed traits opened, PII masked without `pii:read`. */
async function directoryView(reader: PiiReader, r: DirectoryRow) {
  const opened = await protectTraits({ ...reader, clear: true }, JSON.parse(r.traits) as Record<string, unknown>);
  const traits = reader.clear ? opened : await protectTraits(reader, opened);
  const identifiers = await Promise.all(
    (JSON.parse(r.identifiers) as string[]).map((k) => showIdentifier(reader, k, opened)),
  );
  return {
    id: r.id,
    collection: r.collection,
    identifiers,
    traits,
    eventCount: r.eventCount,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    lastSeenAt: r.lastSeenAt,
  };
}

const encodeCursor = (r: DirectoryRow) => btoa(JSON.stringify([r.updatedAt, r.id]));
function decodeCursor(raw: string): [string, string] {
  try {
    const v = JSON.parse(atob(raw));
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string')) return v as [string, string];
  } catch {}
  throw badRequest('`cursor` is not a cursor this API returned');
}

const doc = apiDoc('Profiles', {
  list: {
    summary: 'Search the profile directory, most recently updated first',
    query: {
      collection: 'users or accounts (default users)',
      q: 'Matches any identifier or trait value',
      limit: '1–200 (default 50)',
      cursor: '`cursor` of the previous page',
    },
  },
  get: { summary: 'One live profile: identifiers, traits, recent events', errors: [404] },
});

/**
 * `/api/profiles`: the profile directory. The list searches any identifier or trait value (from
 * the D1 directory, updated in batches, so it trails ingestion by a queue batch); the detail reads
 * the live profile itself.
 */
export const profileDirectoryApi = new Hono<AdminEnv>()
  .use('*', requireScope('profiles:read'))
  .get('/', doc.list, async (c) => {
    const collection = c.req.query('collection') ?? 'users';
    if (collection !== 'users' && collection !== 'accounts') throw badRequest('`collection` must be users or accounts');
    const limit = queryInt(c.req.query('limit'), 'limit', { fallback: 50, min: 1, max: 200 });
    const q = (c.req.query('q') ?? '').trim().toLowerCase();
    if (q.length > 200) throw badRequest('`q` is at most 200 characters');
    const rawCursor = c.req.query('cursor');
    const after = rawCursor ? decodeCursor(rawCursor) : undefined;
    const pattern = `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    const reader = await piiReader(c);
    // An email or phone is indexed blind: `q` finds it by its exact value, through the same HMAC.
    const blind = (await blindTerms(reader.pii, q)).map((term) => sql`instr(${profileDirectory.search}, ${term}) > 0`);
    const t = profileDirectory;
    const rows = await db(c.env.DB)
      .select()
      .from(t)
      .where(
        and(
          eq(t.collection, collection),
          isNull(t.mergedInto),
          q ? or(sql`${t.search} LIKE ${pattern} ESCAPE '\\'`, ...blind) : undefined,
          after
            ? or(sql`${t.updatedAt} < ${after[0]}`, and(eq(t.updatedAt, after[0]), sql`${t.id} < ${after[1]}`))
            : undefined,
        ),
      )
      .orderBy(desc(t.updatedAt), desc(t.id))
      .limit(limit + 1)
      .all();
    const page = rows.slice(0, limit);
    const data = await Promise.all(page.map((r) => directoryView(reader, r)));
    const pii = (d: (typeof data)[number]) =>
      d.identifiers.some((k) => reader.pii.keys.has(k.split(':')[0])) ||
      Object.keys(d.traits).some((k) => reader.pii.keys.has(k));
    if (reader.clear && data.some(pii))
      await auditPiiRead(c, '/api/profiles', { profiles: data.map((d) => d.id), q: q ? maskValue(q) : undefined });
    return c.json({
      data,
      cursor: rows.length > limit ? encodeCursor(page[page.length - 1]) : null,
    });
  })
  .get('/:id', doc.get, async (c) => {
    const ref = c.req.param('id');
    const collection: Collection = ref.startsWith('acc_') || ref.startsWith('group_id:') ? 'accounts' : 'users';
    const id = await findProfileId(c.env, collection, ref);
    const read =
      id &&
      (await readProfile(c.env, id, {
        identifiers: true,
        traits: true,
        links: true,
        merges: true,
        events: { limit: RECENT_EVENTS, asc: false },
      }));
    if (!read) throw notFound(`Profile ${ref}`);
    const found = await protectRead(c, read);
    const p = found.profile;
    return c.json({
      id: found.id,
      collection,
      ...(found.id !== id ? { requested: id } : {}),
      identifiers: (p.identifiers ?? []).map((r) => ({
        kind: r.kind,
        value: r.value,
        sourceId: r.source_id,
        firstMessageId: r.first_message_id,
        createdAt: r.created_at,
      })),
      traits: Object.fromEntries((p.traits ?? []).map((t) => [t.key, t.value])),
      links: p.links ?? [],
      metadata: metadataView(p.meta),
      eventCount: p.meta.event_count,
      recentEvents: (p.events ?? []).map((r) => eventView(r, found.id, collection)),
      merges: (p.merges ?? []).map((m) => ({ profileId: m.profile_id, reason: m.reason, mergedAt: m.merged_at })),
    });
  });
