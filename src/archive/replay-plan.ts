import type { DeliveryAttempt } from '../delivery/messages';
import { type LiveDestination, route } from '../delivery/routing';
import type { EnrichedEvent } from '../ingest/spec';
import { compileFql } from '../lib/fql';
import { type ArchiveRow, toEvent } from './schema';

/** What a replay selects: a source's events received in [from, to], optionally by name and FQL. */
export interface ReplaySelection {
  sourceId: string;
  from: string;
  to: string;
  eventNames: string[] | null;
  filter: string | null;
}

/** The rows of a file a replay sends, as events marked `context.replay = true` (original messageId). */
export function selectEvents(rows: ArchiveRow[], sel: ReplaySelection): EnrichedEvent[] {
  const from = Date.parse(sel.from);
  const to = Date.parse(sel.to);
  const names = sel.eventNames ? new Set(sel.eventNames) : null;
  const where = sel.filter ? compileFql(sel.filter) : null;
  const out: EnrichedEvent[] = [];
  for (const row of rows) {
    const at = row.received_at.getTime();
    if (row.source_id !== sel.sourceId || at < from || at > to) continue;
    if (names && !names.has(row.event ?? row.name ?? row.type)) continue;
    const event = toEvent(row);
    if (where && !where(event)) continue;
    out.push({ ...event, context: { ...event.context, replay: true } });
  }
  return out;
}

/**
 * The retry-lane messages of replayed events: each chosen destination gets the event as its
 * filters, consent and `integrations` let it through (the same routing as live traffic).
 */
export function attemptsFor(
  events: EnrichedEvent[],
  sourceId: string,
  destinationIds: string[],
  dests: LiveDestination[],
  now: string,
): DeliveryAttempt[] {
  const out: DeliveryAttempt[] = [];
  for (const event of events) {
    for (const r of route({ kind: 'event', sourceId, event, destinationIds }, dests)) {
      if (!('event' in r)) continue;
      out.push({
        kind: 'attempt',
        destinationId: r.dest.id,
        sourceId,
        event: r.event,
        firstAttemptAt: now,
        priorAttempts: 0,
        replay: true,
      });
    }
  }
  return out;
}
