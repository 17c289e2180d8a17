/** One membership change as the Profile DO outbox reports it. */
export interface MembershipChange {
  audienceId: string;
  profileId: string;
  member: boolean;
  /** Epoch ms of the change. */
  at: number;
}

/** The `work` queue message carrying one profile's membership changes to D1 (profiles/engage sends it). */
export interface MembershipMessage {
  type: 'engage.membership';
  changes: MembershipChange[];
}

/** Changes for a deleted audience (still draining from profiles) are ignored. */
const DEFINED = 'EXISTS (SELECT 1 FROM engage_definitions WHERE id = ?1)';

/**
 * Writes a batch of membership changes to D1 in one transaction: member rows are added or removed,
 * and the day's size history is updated per audience touched (size re-counted, entries/exits added).
 * Idempotent for replays: entering twice or exiting a non-member changes nothing but the counters.
 * Changes apply in time order and the queue that carries them is unordered, so both directions are
 * guarded: an exit never removes a membership that began after it, and an entry older than the
 * latest recorded exit (`audience_exits`) is stale and ignored.
 */
export async function recordMembershipChanges(d1: D1Database, changes: readonly MembershipChange[]): Promise<void> {
  if (changes.length === 0) return;
  const statements: D1PreparedStatement[] = [];
  const touched = new Map<string, { day: string; entered: number; exited: number }>();
  const ordered = [...changes].sort((a, b) => a.at - b.at);
  for (const c of ordered) {
    const when = new Date(c.at).toISOString();
    statements.push(
      ...(c.member
        ? [
            d1
              .prepare(
                `INSERT INTO audience_members (audience_id, profile_id, entered_at)
                 SELECT ?1, ?2, ?3 WHERE ${DEFINED} AND NOT EXISTS (SELECT 1 FROM audience_exits
                   WHERE audience_id = ?1 AND profile_id = ?2 AND exited_at >= ?3)
                 ON CONFLICT DO NOTHING`,
              )
              .bind(c.audienceId, c.profileId, when),
          ]
        : [
            d1
              .prepare('DELETE FROM audience_members WHERE audience_id = ? AND profile_id = ? AND entered_at <= ?')
              .bind(c.audienceId, c.profileId, when),
            d1
              .prepare(
                `INSERT INTO audience_exits (audience_id, profile_id, exited_at) SELECT ?1, ?2, ?3 WHERE ${DEFINED}
                 ON CONFLICT DO UPDATE SET exited_at = max(exited_at, excluded.exited_at)`,
              )
              .bind(c.audienceId, c.profileId, when),
          ]),
    );
    const day = when.slice(0, 10);
    const key = `${c.audienceId}\u0000${day}`;
    const t = touched.get(key) ?? { day, entered: 0, exited: 0 };
    if (c.member) t.entered++;
    else t.exited++;
    touched.set(key, t);
  }
  for (const [key, t] of touched) {
    const audienceId = key.split('\u0000')[0];
    statements.push(
      d1
        .prepare(
          `INSERT INTO audience_size_history (audience_id, day, size, entered, exited)
           SELECT ?1, ?2, (SELECT count(*) FROM audience_members WHERE audience_id = ?1), ?3, ?4 WHERE ${DEFINED}
           ON CONFLICT (audience_id, day) DO UPDATE SET
             size = excluded.size, entered = entered + excluded.entered, exited = exited + excluded.exited`,
        )
        .bind(audienceId, t.day, t.entered, t.exited),
    );
  }
  await d1.batch(statements);
}
