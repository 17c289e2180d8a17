import { isSealed } from '../privacy/pii';
import type { ProfileSnapshot } from './rpc';

/**
 * A merge performed while resolving (counted by the resolver's stats). D1 keeps no row of its own
 * for it: the loser's directory row, a tombstone with `merged_into`, is the pointer insights
 * follow; reason and time are in the survivor's `merged_from`, which the Profile API reads.
 */
export interface MergeRecord {
  loser: string;
  survivor: string;
  reason: string;
  mergedAt: string;
}

const SEARCH_CHARS = 8_000;
const MAX_LISTED_IDENTIFIERS = 200;
const STATEMENTS_PER_BATCH = 50;

/**
 * How far behind the profile the directory row's counters (event count, last seen, updated) may
 * fall before a snapshot that changes nothing else is written anyway. A known user's event then
 * writes the directory once per profile per 10 minutes, not on every event.
 */
export const DIRECTORY_REFRESH_MS = 10 * 60_000;
const WRITTEN_CACHE = 10_000;

/** What this isolate last wrote per profile: the listed content and the counters' time. */
const written = new Map<string, { content: string; updatedAt: number }>();

/** The part of a snapshot the directory lists and searches (not its counters). */
const contentOf = (s: ProfileSnapshot) => JSON.stringify([s.collection, s.mergedInto ?? null, s.identifiers, s.traits]);

/** True when this isolate wrote the same content for the profile less than `DIRECTORY_REFRESH_MS` before. */
export function unchanged(s: ProfileSnapshot): boolean {
  const last = written.get(s.id);
  if (!last) return false;
  const t = Date.parse(s.updatedAt);
  return Number.isFinite(t) && t - last.updatedAt < DIRECTORY_REFRESH_MS && last.content === contentOf(s);
}

function noteWritten(s: ProfileSnapshot): void {
  written.delete(s.id);
  if (written.size >= WRITTEN_CACHE) written.delete(written.keys().next().value as string);
  const t = Date.parse(s.updatedAt);
  written.set(s.id, { content: contentOf(s), updatedAt: Number.isFinite(t) ? t : 0 });
}

/**
 * What the directory keeps of a profile's traits: at most 300 keys (Segment's limit of traits per
 * identify) and 64 KB of JSON, the most recently updated first. D1 refuses rows over 2 MB, and
 * the directory is a search list; the Profile API reads every trait from the profile itself.
 */
export const DIRECTORY_TRAITS = { maxKeys: 300, maxBytes: 64 * 1024 };

/** One stored trait: its key, its value as JSON text, and when it was last set (ms). */
export interface TraitEntry {
  key: string;
  json: string;
  ts: number;
}

const utf8 = new TextEncoder();

/**
 * The traits the directory keeps: newest first (ties by key), skipping any that would push the
 * JSON past the byte cap, so one huge value costs only itself. Pure and deterministic.
 */
export function boundTraits(entries: TraitEntry[], caps = DIRECTORY_TRAITS): Record<string, unknown> {
  const newestFirst = [...entries].sort((a, b) => b.ts - a.ts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const kept: TraitEntry[] = [];
  let bytes = 2; // {}
  for (const e of newestFirst) {
    if (kept.length >= caps.maxKeys) break;
    const size = utf8.encode(JSON.stringify(e.key)).length + utf8.encode(e.json).length + 2; // : and ,
    if (bytes + size > caps.maxBytes) continue;
    bytes += size;
    kept.push(e);
  }
  kept.sort((a, b) => (a.key < b.key ? -1 : 1));
  return Object.fromEntries(kept.map((e) => [e.key, JSON.parse(e.json)]));
}

/**
 * A guard for the row itself: snapshots come bounded from their profile (newest traits first);
 * one that is not is cut in its own key order rather than risk a row D1 refuses.
 */
function traitsJson(traits: Record<string, unknown>): string {
  const json = JSON.stringify(traits);
  if (utf8.encode(json).length <= DIRECTORY_TRAITS.maxBytes && Object.keys(traits).length <= DIRECTORY_TRAITS.maxKeys)
    return json;
  const entries = Object.entries(traits).map(([key, v], i) => ({ key, json: JSON.stringify(v ?? null), ts: -i }));
  return JSON.stringify(boundTraits(entries));
}

/** Lower-cased text `?q=` searches: identifier keys and values, then trait values. */
export function searchText(s: Pick<ProfileSnapshot, 'id' | 'identifiers' | 'traits'>): string {
  const parts = [s.id, ...s.identifiers];
  for (const [k, v] of Object.entries(s.traits)) {
    // A sealed PII value is noise to search; its identifier is found through the blind index.
    if (v !== null && typeof v !== 'object' && !isSealed(v)) parts.push(`${k}:${String(v)}`);
  }
  return parts.join(' ').toLowerCase().slice(0, SEARCH_CHARS);
}

/** The directory row's columns (`profile_directory`, src/db/profiles-schema.ts), in bind order. */
const COLUMNS = [
  'id',
  'collection',
  'version',
  'merged_into',
  'identifiers',
  'traits',
  'search',
  'event_count',
  'created_at',
  'updated_at',
  'last_seen_at',
] as const;

/**
 * The columns a tombstone's upsert sets on a stored row: none of the recency index's (collection,
 * updated_at, id). D1 counts a row written for each index whose columns an UPDATE sets, changed or
 * not, so a loser costs 1 row instead of 2; its updated_at stays as it was, which nothing reads
 * (every listing skips rows with `merged_into`).
 */
const TOMBSTONE_SET = ['version', 'merged_into', 'identifiers', 'traits', 'search', 'event_count', 'last_seen_at'];

/**
 * The upsert, as SQL text written once: building it with drizzle for every row was 4 % of the
 * pipeline's CPU (`node scripts/profile.mjs --workload known`). A snapshot only replaces a stored
 * row of a lower version.
 */
const upsertSql = (set: readonly string[]) =>
  `INSERT INTO profile_directory (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})
   ON CONFLICT (id) DO UPDATE SET ${set.map((c) => `${c} = excluded.${c}`).join(', ')}
   WHERE excluded.version > profile_directory.version`;
const LIVE_UPSERT = upsertSql(COLUMNS.filter((c) => c !== 'id'));
const TOMBSTONE_UPSERT = upsertSql(TOMBSTONE_SET);

/** The statement writing a snapshot's row; `lean` leaves out its traits (for a row D1 refused). */
function upsert(d1: D1Database, s: ProfileSnapshot, lean: boolean): D1PreparedStatement {
  return d1
    .prepare(s.mergedInto ? TOMBSTONE_UPSERT : LIVE_UPSERT)
    .bind(
      s.id,
      s.collection,
      s.version,
      s.mergedInto ?? null,
      JSON.stringify(s.identifiers.slice(0, lean ? 20 : MAX_LISTED_IDENTIFIERS)),
      lean ? '{}' : traitsJson(s.traits),
      lean ? s.id.toLowerCase() : searchText(s),
      s.eventCount,
      s.createdAt || s.updatedAt,
      s.updatedAt,
      s.lastSeenAt ?? null,
    );
}

/**
 * Collects profile snapshots while a queue batch is processed, then writes them to D1 in a few
 * `batch()` calls: never one write per event. A snapshot only replaces a stored one with a lower
 * version, so batches that finish out of order cannot roll a profile back; a merged loser's
 * snapshot (the highest version it will have) leaves its row as the merge pointer.
 */
export class DirectoryBatch {
  private readonly snapshots = new Map<string, ProfileSnapshot>();

  add(snapshot: ProfileSnapshot): void {
    if (!snapshot.id) return;
    const cur = this.snapshots.get(snapshot.id);
    if (!cur || cur.version < snapshot.version) this.snapshots.set(snapshot.id, snapshot);
  }

  get size(): number {
    return this.snapshots.size;
  }

  /**
   * Writes what was collected. A batch D1 refuses is written again one statement at a time, and a
   * profile row refused even alone is written once more without its traits: one bad profile never
   * fails the others. Only when nothing at all could be written does it throw (D1 is down; the
   * queue retries, and the version guard makes replays harmless).
   */
  async flush(d1: D1Database): Promise<void> {
    // A snapshot whose listed content this isolate wrote recently is skipped: only its counters moved.
    const changed = [...this.snapshots.values()].filter((s) => !unchanged(s));
    const items = changed.map((s) => ({
      statement: upsert(d1, s, false),
      lean: () => upsert(d1, s, true),
      what: `profile ${s.id}`,
      snapshot: s,
    }));
    this.snapshots.clear();
    let rowsWritten = 0;
    const failures: string[] = [];
    for (let i = 0; i < items.length; i += STATEMENTS_PER_BATCH) {
      const chunk = items.slice(i, i + STATEMENTS_PER_BATCH);
      const statements = chunk.map((c) => c.statement);
      try {
        await d1.batch(statements);
        rowsWritten += chunk.length;
        for (const c of chunk) noteWritten(c.snapshot);
        continue;
      } catch (err) {
        console.warn('profile directory batch refused; writing its rows one by one', err);
      }
      for (const item of chunk) {
        const ok = await tryWrite(item.statement, item.lean);
        if (ok) rowsWritten++;
        else failures.push(item.what);
      }
    }
    if (failures.length && !rowsWritten) throw new Error(`profile directory write failed (${failures.length} rows)`);
    if (failures.length) console.error('profile directory rows skipped', failures);
  }
}

/** Runs one statement, then its lean form if it has one; false when both are refused. */
async function tryWrite(statement: { run(): Promise<unknown> }, lean?: () => { run(): Promise<unknown> }) {
  try {
    await statement.run();
    return true;
  } catch (err) {
    if (!lean) return false;
    console.warn('profile directory row refused; writing it without traits', err);
  }
  try {
    await lean().run();
    return true;
  } catch {
    return false;
  }
}
