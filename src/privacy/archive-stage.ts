import { eraseSubjects } from '../archive/erase';
import type { StageOutcome } from './erase';
import type { Subjects } from './regulation-store';

const valuesOf = (keys: readonly string[], kind: string) =>
  keys.filter((k) => k.startsWith(`${kind}:`)).map((k) => k.slice(kind.length + 1));

/**
 * The `archive` stage: rewrites the R2 event archive's files without the person's rows. Archived
 * rows carry user_id, anonymous_id and profile_id, so those are what is matched; the person's other
 * identifiers (email, phone) live in their events only next to one of these. Idempotent: a rerun
 * finds nothing left, so a resumed regulation may run it again.
 */
export async function eraseArchive(env: Cloudflare.Env, subjects: Subjects): Promise<StageOutcome> {
  const r = await eraseSubjects(env, {
    userIds: valuesOf(subjects.keys, 'user_id'),
    anonymousIds: valuesOf(subjects.keys, 'anonymous_id'),
    profileIds: subjects.profiles,
  });
  return { status: 'FINISHED', total: r.filesRead, done: r.filesRewritten };
}
