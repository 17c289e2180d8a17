import { parseKey } from '../identity/identifiers';
import { forgetKeys, lookupKeys } from '../identity/index-do';
import { liveTap } from '../ingest/live-tap';
import { forEachLimited } from '../lib/pool';
import { readProfile } from '../profiles/lookup';
import { profileStub } from '../profiles/protocol';
import { equalityTag, isBlind } from './pii';
import { indexKey, loadPii } from './pii-guard';
import type { Subjects } from './regulation-store';
import { BY_ROWID, rowidsOf, scrubbedDelete } from './scrub';

/** What one stage did: its status and how many items it handled. */
export interface StageOutcome {
  status: 'FINISHED' | 'SKIPPED' | 'FAILED' | 'PARTIAL_SUCCESS';
  total: number;
  done: number;
  error?: string;
}

const CONCURRENCY = 8;

const pool = <T>(items: readonly T[], fn: (item: T) => Promise<void>) => forEachLimited(items, CONCURRENCY, fn);

/**
 * Resolves the named identifier keys to their profiles (following merges) and collects every
 * identifier of those profiles, so suppression and deletion cover the person, not only one id.
 */
export async function resolveSubjects(env: Env, named: string[]): Promise<Subjects> {
  // With PII sealing on, the index knows emails and phones by their blind index only; both forms
  // are kept, so the edge matches the clear value an event carries as well as the profile's keys.
  const pii = await loadPii(env);
  const indexed = await Promise.all(
    named.map((k) => {
      const id = parseKey(k);
      return id ? indexKey(pii, id.kind, id.value) : k;
    }),
  );
  const owners = await lookupKeys(env, indexed);
  const profiles = new Set<string>();
  const keys = new Set([...named, ...indexed]);
  await pool([...new Set(Object.values(owners))], async (owner) => {
    profiles.add(owner);
    const found = await readProfile(env, owner, { identifiers: true, merges: true });
    if (!found) return;
    profiles.add(found.id);
    for (const r of found.profile.identifiers ?? []) keys.add(r.key);
    for (const m of found.profile.merges ?? []) profiles.add(m.profile_id);
  });
  return { profiles: [...profiles].sort(), keys: [...keys].sort() };
}

/** Erases each profile object's storage (`resolve` already collected their identifiers). */
export async function eraseProfiles(env: Env, subjects: Subjects): Promise<StageOutcome> {
  let done = 0;
  await pool(subjects.profiles, async (id) => {
    await profileStub(env, id).erase();
    done++;
  });
  return { status: 'FINISHED', total: subjects.profiles.length, done };
}

/** Removes the identity index entries that point at the deleted profiles. */
export async function eraseIdentity(env: Env, subjects: Subjects): Promise<StageOutcome> {
  const done = await forgetKeys(env, subjects.keys, subjects.profiles);
  return { status: 'FINISHED', total: subjects.keys.length, done };
}

/** The person's identifier values as they appear inside stored JSON: `"value"`, lower-cased. */
export function needlesOf(subjects: Subjects): string[] {
  const values = subjects.keys.flatMap((k) => {
    const id = parseKey(k);
    return id ? [id.value] : [];
  });
  return [...new Set([...values, ...subjects.profiles])].map((v) => JSON.stringify(v).toLowerCase());
}

/**
 * The equality tags of the person's clear PII identifiers (an email the request named): sealed
 * trait values carry them (`pii1.….t<tag>`), so a dead letter holding only their sealed email is
 * still found. Lower-cased like the other needles.
 */
export async function sealedNeedles(env: Env, subjects: Subjects): Promise<string[]> {
  const pii = await loadPii(env);
  const ring = pii.ring;
  if (!ring) return [];
  const out: string[] = [];
  for (const k of subjects.keys) {
    const id = parseKey(k);
    if (id && pii.keys.has(id.kind) && !isBlind(id.value))
      out.push((await equalityTag(ring, id.kind, id.value)).toLowerCase());
  }
  return out;
}

/** Matches a row whose JSON text column mentions one of the needles (bound as one JSON list). */
const mentions = (column: string) => `EXISTS (SELECT 1 FROM json_each(?) n WHERE instr(lower(${column}), n.value) > 0)`;

/**
 * Deletes the person's D1 rows, each overwritten where it lies first: directory and merge history,
 * audience membership and exits, insights rollups, and every dead letter or sample that carries their events
 * (delivery failures with their payloads, ingest and work failures, tracking-plan violation
 * samples). The run scrubs the WAL and free pages once it ends (`scrubFreeSpace`).
 */
export async function eraseD1(d1: D1Database, subjects: Subjects, tags: string[] = []): Promise<StageOutcome> {
  const ids = JSON.stringify(subjects.profiles);
  const needles = JSON.stringify([...needlesOf(subjects), ...tags]);
  const inIds = '(SELECT value FROM json_each(?))';
  const byMention = async (table: string, column: string) =>
    [table, await rowidsOf(d1, table, mentions(column), [needles])] as const;
  const mentioned = await Promise.all([
    byMention('delivery_failures', 'event'),
    byMention('ingest_failures', 'body'),
    byMention('work_failures', "coalesce(body, '')"),
    byMention('violations', 'sample'),
  ]);
  const columns: Record<string, string[]> = {
    delivery_failures: ['event', 'event_name', 'error', 'response'],
    ingest_failures: ['body'],
    work_failures: ['body', 'error'],
    violations: ['sample'],
  };
  const statements = [
    ...scrubbedDelete(d1, 'profile_directory', ['identifiers', 'traits', 'search'], `id IN ${inIds}`, [ids]),
    ...scrubbedDelete(d1, 'profile_merges', ['reason'], `loser IN ${inIds} OR survivor IN ${inIds}`, [ids, ids]),
    ...scrubbedDelete(d1, 'audience_members', [], `profile_id IN ${inIds}`, [ids]),
    ...scrubbedDelete(d1, 'audience_exits', [], `profile_id IN ${inIds}`, [ids]),
    // Insights rollups keep each profile's event properties and context (src/insights).
    ...scrubbedDelete(d1, 'insights_rollup', ['variants'], `profile_id IN ${inIds}`, [ids]),
    ...mentioned.flatMap(([table, rowids]) => scrubbedDelete(d1, table, columns[table], BY_ROWID, [rowids])),
  ];
  const results = await d1.batch(statements);
  // Every other statement is a DELETE; the UPDATEs before them change the same rows.
  const done = results.reduce((n, r, i) => (i % 2 ? n + (r.meta.changes ?? 0) : n), 0);
  return { status: 'FINISHED', total: done, done };
}

/** Drops the person's entries from every source's debugger. */
export async function eraseDebugger(env: Env, subjects: Subjects): Promise<StageOutcome> {
  const sources = await env.DB.prepare('SELECT id FROM sources').all<{ id: string }>();
  const needles = [...needlesOf(subjects), ...(await sealedNeedles(env, subjects))];
  let done = 0;
  await pool(sources.results, async ({ id }) => {
    done += await liveTap(env, id).forget(needles);
  });
  return { status: 'FINISHED', total: sources.results.length, done };
}
