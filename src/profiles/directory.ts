import { sql } from 'drizzle-orm';
import { db } from '../db/client';
import { profileDirectory, profileMerges } from '../db/profiles-schema';
import type { MergeRecord } from '../identity/resolver';
import type { ProfileSnapshot } from './protocol';

const SEARCH_CHARS = 8_000;
const MAX_LISTED_IDENTIFIERS = 200;
const STATEMENTS_PER_BATCH = 50;

/** Lower-cased text `?q=` searches: identifier keys and values, then trait values. */
export function searchText(s: Pick<ProfileSnapshot, 'id' | 'identifiers' | 'traits'>): string {
  const parts = [s.id, ...s.identifiers];
  for (const [k, v] of Object.entries(s.traits)) {
    if (v !== null && typeof v !== 'object') parts.push(`${k}:${String(v)}`);
  }
  return parts.join(' ').toLowerCase().slice(0, SEARCH_CHARS);
}

/**
 * Collects profile snapshots and merges while a queue batch is processed, then writes them to D1
 * in a few `batch()` calls: never one write per event. A snapshot only replaces a stored one
 * with a lower version, so batches that finish out of order cannot roll a profile back.
 */
export class DirectoryBatch {
  private readonly snapshots = new Map<string, ProfileSnapshot>();
  private readonly merges: MergeRecord[] = [];

  add(snapshot: ProfileSnapshot): void {
    if (!snapshot.id) return;
    const cur = this.snapshots.get(snapshot.id);
    if (!cur || cur.version < snapshot.version) this.snapshots.set(snapshot.id, snapshot);
  }

  addMerge(m: MergeRecord): void {
    this.merges.push(m);
  }

  get size(): number {
    return this.snapshots.size + this.merges.length;
  }

  async flush(d1: D1Database): Promise<void> {
    const client = db(d1);
    const statements = [
      ...[...this.snapshots.values()].map((s) => {
        const row = {
          id: s.id,
          collection: s.collection,
          version: s.version,
          mergedInto: s.mergedInto ?? null,
          identifiers: JSON.stringify(s.identifiers.slice(0, MAX_LISTED_IDENTIFIERS)),
          traits: JSON.stringify(s.traits),
          search: searchText(s),
          eventCount: s.eventCount,
          createdAt: s.createdAt || s.updatedAt,
          updatedAt: s.updatedAt,
          lastSeenAt: s.lastSeenAt ?? null,
        };
        const { id: _id, ...set } = row;
        return client
          .insert(profileDirectory)
          .values(row)
          .onConflictDoUpdate({
            target: profileDirectory.id,
            set,
            setWhere: sql`excluded.version > ${profileDirectory.version}`,
          });
      }),
      ...this.merges.map((m) => client.insert(profileMerges).values(m).onConflictDoNothing()),
    ];
    this.snapshots.clear();
    this.merges.length = 0;
    for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) {
      const chunk = statements.slice(i, i + STATEMENTS_PER_BATCH);
      if (chunk.length) await client.batch(chunk as [(typeof chunk)[number], ...typeof chunk]);
    }
  }
}
