import { measureExcess, type ProfileView } from '../identity/resolve';
import type { ProfileEngage } from './engage/engage';
import type { EventLog } from './event-log';
import type { AbsorbInput, HistoryCursor, HistoryPage } from './rpc';

// The merge's pieces that need no Durable Object: what a survivor refuses, and how a loser's
// history is paged out (its log and dedupe set, then its audience match rows).

/** The identifier kinds a survivor (`mine`) would break by absorbing the loser's head; none means it may. */
export function absorbBreaks(mine: ProfileView, input: AbsorbInput): string[] {
  const theirs = {
    identifiers: input.head.identifiers.map((r) => r.key),
    merges: input.head.mergedFrom.length,
    addedAt: Object.fromEntries(input.head.identifiers.map((r) => [r.key, Date.parse(r.created_at)])),
  };
  const union = new Set([...mine.identifiers, ...theirs.identifiers]);
  const excess = measureExcess(union, mine.merges + 1 + theirs.merges, [mine, theirs], input.limits);
  return excess.amount > 0 ? [...excess.kinds] : [];
}

/** One page of a profile's history for the survivor of its merge: the log first, then match rows. */
export function exportHistoryPage(log: EventLog, engage: ProfileEngage, cursor?: HistoryCursor): HistoryPage {
  if (cursor?.phase === 'matches') {
    const m = engage.matchPage({ spec: cursor.ts, id: cursor.id });
    const next = m.next && { phase: 'matches' as const, ts: m.next.spec, id: m.next.id };
    return { chunk: { events: [], seen: [], matches: m.rows }, next };
  }
  const page = log.historyPage(cursor);
  if (page.next) return page;
  const m = engage.matchPage();
  const next = m.next && { phase: 'matches' as const, ts: m.next.spec, id: m.next.id };
  return { chunk: { ...page.chunk, matches: m.rows }, next };
}
