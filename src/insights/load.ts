import { ApiError } from '../lib/errors';
import { MAX_MERGE_HOPS } from '../lib/merge-pointers';
import type { RollupRow, Variant } from './rollup';

/** Most rollup variants one query reads; a wider query is refused rather than left to time out. */
export const MAX_ROWS = 250_000;
/** Stored rows a page reads: a row holds its variants (typically a few, at most ~200 KB of them). */
const PAGE = 10_000;
const IDS_PER_QUERY = 5_000;

interface Row {
  event: string;
  hour: number;
  profile_id: string;
  source_id: string;
  variants: string;
}

/** The rollup variants of `events` whose hour overlaps [from, to), optionally of one source. */
export async function loadRows(
  d1: D1Database,
  q: { events: string[]; from: string; to: string; sourceId?: string },
): Promise<RollupRow[]> {
  const fromHour = Math.floor(Date.parse(q.from) / 3_600_000);
  const toHour = Math.floor((Date.parse(q.to) - 1) / 3_600_000);
  const out: RollupRow[] = [];
  // Keyset paging on the primary key, so each page is an index range scan.
  let after: unknown[] = ['', -1, '', ''];
  for (;;) {
    const { results } = await d1
      .prepare(
        `SELECT event, hour, profile_id, source_id, variants FROM insights_rollup
         WHERE event IN (SELECT value FROM json_each(?1)) AND hour BETWEEN ?2 AND ?3
           AND (?4 IS NULL OR source_id = ?4)
           AND (event, hour, profile_id, source_id) > (?5, ?6, ?7, ?8)
         ORDER BY event, hour, profile_id, source_id LIMIT ?9`,
      )
      .bind(JSON.stringify(q.events), fromHour, toHour, q.sourceId ?? null, ...after, PAGE)
      .all<Row>();
    for (const r of results) {
      for (const [dims, count, times] of JSON.parse(r.variants) as Variant[]) {
        out.push({ event: r.event, hour: r.hour, profileId: r.profile_id, sourceId: r.source_id, dims, count, times });
      }
    }
    if (out.length > MAX_ROWS) {
      throw new ApiError(
        400,
        'query_too_large',
        `More than ${MAX_ROWS} rollup rows match; narrow the range or the source`,
      );
    }
    if (results.length < PAGE) return out;
    const last = results[results.length - 1];
    after = [last.event, last.hour, last.profile_id, last.source_id];
  }
}

/**
 * Merge pointers (loser → survivor) reachable from `ids`: a merged profile's directory row keeps
 * `merged_into` (a primary-key lookup each; migration 0021 put older `profile_merges` records there).
 */
export async function loadMerges(d1: D1Database, ids: Iterable<string>): Promise<Map<string, string>> {
  const merges = new Map<string, string>();
  let frontier = [...new Set(ids)];
  for (let hop = 0; frontier.length && hop < MAX_MERGE_HOPS; hop++) {
    const next: string[] = [];
    for (let i = 0; i < frontier.length; i += IDS_PER_QUERY) {
      const { results } = await d1
        .prepare(
          `SELECT id AS loser, merged_into AS survivor FROM profile_directory
           WHERE id IN (SELECT value FROM json_each(?)) AND merged_into IS NOT NULL`,
        )
        .bind(JSON.stringify(frontier.slice(i, i + IDS_PER_QUERY)))
        .all<{ loser: string; survivor: string }>();
      for (const r of results) {
        if (merges.has(r.loser)) continue;
        merges.set(r.loser, r.survivor);
        if (!merges.has(r.survivor)) next.push(r.survivor);
      }
    }
    frontier = next;
  }
  return merges;
}
