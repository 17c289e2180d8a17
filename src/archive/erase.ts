import { bloomMayHave, subjectIds } from './bloom';
import { fileOf } from './files';
import { decodeParquet } from './schema';
import { deleteObjectStatement, type ObjectEntry, putObjectStatement } from './store';

/** Who to erase from the archive: any row with one of these ids goes. */
export interface EraseSubjects {
  userIds?: string[];
  anonymousIds?: string[];
  profileIds?: string[];
}

/** What an erase did. */
export interface EraseResult {
  /** Files whose Bloom filter matched and that were read. */
  filesRead: number;
  /** Files rewritten without the subject's rows (or deleted when nothing was left). */
  filesRewritten: number;
  rowsRemoved: number;
}

const PAGE = 500;

/**
 * Removes every archived row of the given subjects, in all sources. The D1 manifest keeps a Bloom
 * filter of each file's user, anonymous and profile ids, so only the files that may hold the
 * subject are read (the hours they were active, plus ~1 % false positives); each of those is
 * rewritten in place under the same key (an R2 put replaces an object atomically, so a reader sees
 * the old file or the new one) and its manifest row updated, or deleted when it is left empty.
 * Idempotent: running it again finds nothing to remove.
 */
export async function eraseSubjects(env: Cloudflare.Env, subjects: EraseSubjects): Promise<EraseResult> {
  const ids = [
    ...(subjects.userIds ?? []).map((v) => `u:${v}`),
    ...(subjects.anonymousIds ?? []).map((v) => `a:${v}`),
    ...(subjects.profileIds ?? []).map((v) => `p:${v}`),
  ];
  const result: EraseResult = { filesRead: 0, filesRewritten: 0, rowsRemoved: 0 };
  if (!ids.length) return result;
  const wanted = new Set(ids);
  let after = '';
  for (;;) {
    const { results } = await env.DB.prepare(
      'SELECT key, source_id AS sourceId, subjects FROM archive_objects WHERE key > ? ORDER BY key LIMIT ?',
    )
      .bind(after, PAGE)
      .all<Pick<ObjectEntry, 'key' | 'sourceId' | 'subjects'>>();
    for (const o of results) {
      if (bloomMayHave(o.subjects, ids)) await eraseInFile(env, o, wanted, result);
    }
    if (results.length < PAGE) return result;
    after = results[results.length - 1].key;
  }
}

async function eraseInFile(
  env: Cloudflare.Env,
  o: Pick<ObjectEntry, 'key' | 'sourceId'>,
  wanted: Set<string>,
  result: EraseResult,
): Promise<void> {
  const file = await env.ARCHIVE.get(o.key);
  result.filesRead++;
  if (!file) return;
  const rows = await decodeParquet(await file.arrayBuffer());
  const kept = rows.filter((r) => !subjectIds(r).some((id) => wanted.has(id)));
  if (kept.length === rows.length) return;
  result.rowsRemoved += rows.length - kept.length;
  result.filesRewritten++;
  const now = new Date().toISOString();
  if (!kept.length) {
    await env.ARCHIVE.delete(o.key);
    await deleteObjectStatement(env.DB, o.key).run();
    return;
  }
  const next = fileOf(o.key, o.sourceId, kept);
  await env.ARCHIVE.put(o.key, next.body, {
    httpMetadata: { contentType: 'application/vnd.apache.parquet' },
    customMetadata: { rows: String(next.entry.rows) },
  });
  await putObjectStatement(env.DB, next.entry, now).run();
}
