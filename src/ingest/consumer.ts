import { archiveAccepted } from '../archive/feed';
import { groupByIdentity } from '../identity/grouping';
import { type Outcome, Resolver } from '../identity/resolver';
import { loadRules } from '../identity/settings-store';
import { recordRollups } from '../insights/record';
import { markHandedOver } from '../insights/seen';
import { forEachLimited } from '../lib/pool';
import { errorText, isPoison, type QueueMessageLike, type Readable, readBodies } from '../lib/queue-bodies';
import { IngestPii, loadPii } from '../privacy/pii-guard';
import { ackSuppressed } from '../privacy/suppression';
import { DirectoryBatch } from '../profiles/directory';
import {
  failureOf,
  type IngestFailure,
  ingestMessageProblem,
  recordIngestFailures,
  unreadableFailure,
} from './dead-letters';
import { handOverDeliveries } from './hand-over';
import { Packs } from './packed';
import type { IngestMessage } from './spec';

/** Groups resolved at once; events within a group go one after another. */
const PARALLEL_GROUPS = 16;

type Item = Readable<QueueMessageLike, IngestMessage>;
type Resolved = { item: Item; out: Outcome };

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/**
 * Resolves a group in one call. The resolver reports per-event errors, but an apply of several
 * events at once can still throw for one bad event; then each event goes alone, so only it fails.
 */
async function resolveGroup(resolver: Resolver, group: Item[]): Promise<(Outcome | Error)[]> {
  try {
    return await resolver.ingestAll(group.map((m) => m.body));
  } catch (err) {
    console.warn('resolving a group failed; resolving its events one by one', errorText(err));
  }
  const outcomes: (Outcome | Error)[] = [];
  for (const item of group) {
    outcomes.push(await resolver.ingestAll([item.body]).then((o) => o[0], asError));
  }
  return outcomes;
}

/** The failure row of a readable message that failed for good. */
function poisonRow(item: Item, queue: string, err: unknown): IngestFailure {
  try {
    return failureOf(item.msg, item.body, queue, errorText(err));
  } catch (serialising) {
    return unreadableFailure(
      { msg: item.msg, error: `${errorText(err)}; ${errorText(serialising)}`, raw: null },
      queue,
    );
  }
}

/**
 * Writes the touched profiles to the directory in a few batches. One bad row (D1 refuses rows over
 * 2 MB) fails its whole batch: then each message's own rows are written alone, and only the
 * messages whose rows fail are retried. Replaying is safe: profiles dedupe and answer with their
 * snapshot again. Returns the entries whose messages were acked.
 */
async function flushDirectory(env: Cloudflare.Env, resolved: Resolved[]): Promise<Resolved[]> {
  const all = new DirectoryBatch();
  for (const { out } of resolved) {
    for (const s of out.snapshots) all.add(s);
  }
  try {
    await all.flush(env.DB);
    for (const { item } of resolved) item.msg.ack();
    return resolved;
  } catch (err) {
    console.error('profile directory write failed; writing message by message', errorText(err));
  }
  const acked: Resolved[] = [];
  for (const entry of resolved) {
    const { item, out } = entry;
    const own = new DirectoryBatch();
    for (const s of out.snapshots) own.add(s);
    try {
      if (own.size) await own.flush(env.DB);
      item.msg.ack();
      acked.push(entry);
    } catch (err) {
      console.error('profile directory write failed; message will be retried', errorText(err));
      item.msg.retry({ delaySeconds: 5 });
    }
  }
  return acked;
}

/**
 * The `ingest` queue consumer: resolves each event's identity, applies it to its profile, sends
 * the batch's deliveries to the `delivery` queue packed together (the profiles hand them back
 * rather than each sending its own, `hand-over.ts`) and records the touched profiles in the D1
 * directory, one batch of writes per queue batch. Messages are acked one by one, after the
 * deliveries and the directory write, so a failure retries only what it concerns; a redelivered
 * message is applied once (messageId dedupe) and its deliveries handed over again.
 *
 * A message may pack several events of one request (`packed.ts`): each is handled as a message of
 * its own, and the message is settled once all are.
 *
 * One message never fails its batch: each body is read once, in its own `try`; one that cannot be
 * read, is not an ingest message, or fails in a way no retry can fix (`isPoison`) is recorded in
 * `ingest_failures` and acked, and the rest of the batch proceeds.
 */
export async function consumeIngest(batch: MessageBatch<IngestMessage>, env: Cloudflare.Env): Promise<void> {
  // A packed message is handled as its events, each acked, retried or recorded on its own.
  const packs = new Packs();
  const { readable: read, unreadable } = readBodies<QueueMessageLike, IngestMessage>(
    packs.expand(batch.messages),
    ingestMessageProblem,
  );
  const readable = await ackSuppressed(env, read); // queued before a regulation suppressed them
  const poison = unreadable.map((u) => ({ msg: u.msg, row: unreadableFailure(u, batch.queue) }));
  for (const p of poison) console.error('unreadable ingest message; recording it', p.msg.id, p.row.error);

  if (readable.length) {
    const rules = await loadRules(env.DB);
    const pii = await IngestPii.prepare(
      await loadPii(env),
      readable.map((r) => r.body),
    );
    // Redelivered events: their profile hands a duplicate's delivery over again (see `again`).
    const again = new Set(readable.filter((r) => r.msg.attempts > 1).map((r) => r.body.event.messageId));
    const resolver = new Resolver(env, rules, pii, { again });
    const resolved: Resolved[] = [];
    const unresolved: Item[] = [];
    const onPoison = (item: Item, err: unknown) => {
      console.error('ingest message cannot be processed; recording it', item.msg.id, errorText(err));
      poison.push({ msg: item.msg, row: poisonRow(item, batch.queue, err) });
    };

    await forEachLimited(groupByIdentity(readable, rules), PARALLEL_GROUPS, async (group) => {
      const outcomes = await resolveGroup(resolver, group);
      group.forEach((item, i) => {
        const out = outcomes[i];
        if (out instanceof Error) {
          if (isPoison(out)) onPoison(item, out);
          else {
            console.error('identity resolution failed; message will be retried', out);
            item.msg.retry({ delaySeconds: Math.min(60, 2 ** item.msg.attempts) });
          }
          return;
        }
        // No usable identifier (all blocked): no profile, but destinations still get the event.
        if (out.profileId || out.accountId) resolved.push({ item, out });
        else unresolved.push(item);
      });
    });

    // Archive lane (src/archive): the events accepted in this batch, packed into few messages.
    const archived = archiveAccepted(env, [
      // As profiles store them: PII trait values sealed (README, Privacy).
      ...resolved.map(({ item, out }) => ({
        body: pii.message(item.body),
        profileId: out.profileId,
        attempts: item.msg.attempts,
      })),
      ...unresolved.map((item) => ({ body: pii.message(item.body), attempts: item.msg.attempts })),
    ]);
    // Every delivery of the batch in as few messages as possible, before anything is acked.
    const handed = await handOverDeliveries<Resolved | Item>(env.DELIVERY_QUEUE, [
      ...resolved.map((r) => ({ item: r, events: r.out.outbound })),
      // No usable identifier: no profile, but destinations still get the event.
      ...unresolved.map((item) => ({
        item,
        events: [{ kind: 'event' as const, sourceId: item.body.sourceId, event: item.body.event }],
      })),
    ]);
    const isResolved = (e: Resolved | Item): e is Resolved => 'out' in e;
    for (const e of handed.failed) (isResolved(e) ? e.item : e).msg.retry({ delaySeconds: 5 });
    for (const { item: e, err } of handed.poison) onPoison(isResolved(e) ? e.item : e, err);
    const sent = handed.sent.filter((e): e is Item => !isResolved(e));
    for (const item of sent) item.msg.ack();
    const stored = await flushDirectory(env, handed.sent.filter(isResolved));
    // Insights count only what this delivery acked: a retried event counts when a later one acks
    // it (in its pack again, or re-sent as a new message by `packs.finish`). Events without a
    // profile count in the volume only. A profile hands back no delivery for an event it had
    // logged already, unless the queue delivered it before (`again`): such an event is a client's
    // re-send in a new request, handled but not counted again.
    await recordRollups(env, [
      ...stored.map(({ item, out }) => ({
        origin: item.msg.origin,
        input: { ...item.body, profileId: out.profileId },
        logged: out.outbound.length === 0,
      })),
      ...sent.map((item) => ({ origin: item.msg.origin, input: item.body })),
    ]);
    await resolver.flush().catch((err) => console.warn('index repoint failed', err));
    await archived;
  }

  const written = await recordIngestFailures(
    env,
    poison.map((p) => p.row),
  );
  poison.forEach((p, i) => {
    if (written[i]) p.msg.ack();
    else p.msg.retry({ delaySeconds: 30 });
  });
  await packs.finish({
    again: (body, delaySeconds) => env.INGEST_QUEUE.send(body, { contentType: 'json', delaySeconds }),
    deadLetter: (body) => env.INGEST_DLQ.send(body, { contentType: 'json' }),
    handedOver: (origin, indexes) => markHandedOver(env.DB, origin, indexes),
  });
}
