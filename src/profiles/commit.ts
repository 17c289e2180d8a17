import type { OutboundEvent } from '../delivery/messages';
import { effectsOf } from './apply';
import type { FoldEvent } from './engage/aggregate-store';
import type { EventLog } from './event-log';
import type { ApplyInput, Meta, ReadQuery, ReadResult } from './rpc';
import { type MetaPatch, ProfileStore } from './store';

/**
 * The writes of one apply, inside the caller's transaction: new links, then each message not seen
 * before (its log row is the dedupe) and its traits, then one outbox row (none when the caller
 * takes the deliveries, `handOver`) and one meta write for the whole run: a new profile's id, its
 * new identifiers, its traits and the run's counters together, rather than a write each.
 */
export function writeMessages(
  store: ProfileStore,
  log: EventLog,
  input: ApplyInput,
  fresh: string[],
  now: Date,
  /** The meta row, when the caller read it right before this transaction. */
  meta?: Meta,
): { applied: number; duplicates: number; events: FoldEvent[]; handedOver?: (OutboundEvent | null)[] } {
  const iso = now.toISOString();
  let applied = 0;
  let duplicates = 0;
  const events: FoldEvent[] = [];
  const m = meta ?? store.meta();
  const patch: MetaPatch = m.id ? {} : { id: input.profileId, collection: input.collection, created_at: iso };
  const first = input.messages[0];
  const identifiers = first
    ? store.identifiersWith(
        ProfileStore.newIdentifierRows(fresh, first.sourceId, first.event.messageId, iso, input.identifierValues),
      )
    : undefined;
  if (identifiers !== undefined) patch.identifiers_json = identifiers;
  store.addLinks(input.links ?? []);
  const traits = store.traitWriter();
  const logged = log.writer();
  let firstApplied: ApplyInput['messages'][number] | undefined;
  let lastApplied: ApplyInput['messages'][number] | undefined;
  const outbound: OutboundEvent[] = [];
  // With `handOver`, each message's delivery goes back to the caller instead of the outbox.
  const handedOver = input.handOver ? input.messages.map(() => null as OutboundEvent | null) : undefined;
  const again = new Set(input.again ?? []);
  const effects = input.messages.map((msg) => effectsOf(msg, input.profileId, input.collection, input.emit));
  // The log's key is the dedupe (and `seen` for what left the log): inline in the meta write, or
  // a row per new event, all of the run's in one statement.
  const isNew = logged.insertAll(effects.map((fx) => fx.event));
  for (const [i, msg] of input.messages.entries()) {
    const fx = effects[i];
    if (!isNew[i]) {
      duplicates++;
      // Redelivered: an earlier attempt may have logged it and died before handing it over.
      if (handedOver && fx.outbound && again.has(msg.event.messageId)) handedOver[i] = fx.outbound;
      continue;
    }
    // As evaluation reads a logged event: its JSON with the log's timestamp (ms).
    events.push({ messageId: fx.event.messageId, ts: fx.event.ts, raw: { ...msg.event, timestamp: fx.event.ts } });
    traits.apply(fx.traits);
    if (fx.outbound && handedOver) handedOver[i] = fx.outbound;
    else if (fx.outbound) outbound.push(fx.outbound);
    firstApplied ??= msg;
    lastApplied = msg;
    applied++;
  }
  // One outbox row and one meta write for the whole run, however many events it holds.
  if (outbound.length) store.enqueueAll(outbound, now.getTime());
  Object.assign(patch, traits.patch(), logged.patch());
  if (firstApplied && lastApplied)
    Object.assign(patch, {
      first_message_id: m.first_message_id ?? firstApplied.event.messageId,
      first_source_id: m.first_source_id ?? firstApplied.sourceId,
      last_message_id: lastApplied.event.messageId,
      last_source_id: lastApplied.sourceId,
      last_seen_at: iso,
    });
  if (applied || fresh.length || Object.keys(patch).length) store.bumpWith(iso, patch, applied);
  return { applied, duplicates, events, handedOver };
}

/** The parts of a profile the APIs asked for; a merged profile answers where it went. */
export function readParts(store: ProfileStore, log: EventLog, q: ReadQuery): ReadResult {
  const meta = store.meta();
  if (meta.merged_into) return { status: 'moved', to: meta.merged_into };
  if (!meta.id) return { status: 'missing' };
  return {
    status: 'live',
    meta,
    identifiers: q.identifiers ? store.identifierRows() : undefined,
    traits: q.traits
      ? store.traitRows().map((t) => ({ key: t.key, value: JSON.parse(t.value), ts: t.ts, source_id: t.source_id }))
      : undefined,
    links: q.links ? store.links() : undefined,
    merges: q.merges ? store.mergedFrom() : undefined,
    events: q.events ? log.page(q.events) : undefined,
    messageIds: q.messageIds ? log.messageIds() : undefined,
  };
}
