import { archiveAccepted } from '../archive/feed';
import type { OutboundEvent } from '../delivery/messages';
import { groupByIdentity } from '../identity/grouping';
import { type Outcome, Resolver } from '../identity/resolver';
import { loadRules } from '../identity/settings-store';
import { recordRollups } from '../insights/record';
import { forEachLimited } from '../lib/pool';
import { chunkForQueue } from '../lib/queue';
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
import { Packs } from './packed';
import type { IngestMessage } from './spec';

/** Groups resolved at once; events within a group go one after another. */
const PARALLEL_GROUPS = 16;

type Item = Readable<QueueMessageLike, IngestMessage>;

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

/** Sendable chunks of items; an item whose size cannot even be measured goes alone. */
function chunksOf(items: Item[]): Item[][] {
  try {
    const chunks: Item[][] = [];
    let at = 0;
    for (const c of chunkForQueue(items.map((m) => m.body))) {
      chunks.push(items.slice(at, at + c.length));
      at += c.length;
    }
    return chunks;
  } catch {
    return items.map((m) => [m]);
  }
}

/**
 * Hands events without a profile to delivery. A chunk that fails is sent message by message, so
 * only the message that cannot be sent is retried (or recorded, if no retry can help).
 */
async function sendUnresolved(env: Cloudflare.Env, items: Item[], onPoison: (item: Item, err: unknown) => void) {
  const send = (chunk: Item[]) =>
    env.DELIVERY_QUEUE.sendBatch(
      chunk.map((m) => ({
        body: { kind: 'event', sourceId: m.body.sourceId, event: m.body.event } satisfies OutboundEvent,
        contentType: 'json' as const,
      })),
    );
  for (const chunk of chunksOf(items)) {
    try {
      await send(chunk);
      for (const m of chunk) m.msg.ack();
      continue;
    } catch (err) {
      console.error('delivery enqueue failed; sending one by one', errorText(err));
    }
    for (const m of chunk) {
      try {
        await send([m]);
        m.msg.ack();
      } catch (err) {
        if (isPoison(err)) {
          onPoison(m, err);
          continue;
        }
        console.error('delivery enqueue failed; message will be retried', errorText(err));
        m.msg.retry({ delaySeconds: 5 });
      }
    }
  }
}

/**
 * Writes the touched profiles to the directory in a few batches. One bad row (D1 refuses rows over
 * 2 MB) fails its whole batch: then each message's own rows are written alone, and only the
 * messages whose rows fail are retried. Replaying is safe: profiles dedupe and answer with their
 * snapshot again.
 */
async function flushDirectory(env: Cloudflare.Env, resolved: { item: Item; out: Outcome }[]): Promise<void> {
  const all = new DirectoryBatch();
  for (const { out } of resolved) {
    for (const s of out.snapshots) all.add(s);
    for (const m of out.merges) all.addMerge(m);
  }
  try {
    await all.flush(env.DB);
    for (const { item } of resolved) item.msg.ack();
    return;
  } catch (err) {
    console.error('profile directory write failed; writing message by message', errorText(err));
  }
  for (const { item, out } of resolved) {
    const own = new DirectoryBatch();
    for (const s of out.snapshots) own.add(s);
    for (const m of out.merges) own.addMerge(m);
    try {
      if (own.size) await own.flush(env.DB);
      item.msg.ack();
    } catch (err) {
      console.error('profile directory write failed; message will be retried', errorText(err));
      item.msg.retry({ delaySeconds: 5 });
    }
  }
}

/**
 * The `ingest` queue consumer: resolves each event's identity, applies it to its profile (whose
 * outbox feeds the `delivery` queue) and records the touched profiles in the D1 directory, one
 * batch of writes per queue batch. Messages are acked one by one, after the directory write, so
 * a failure retries only what it concerns; a redelivered message is a no-op (messageId dedupe).
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
    const resolver = new Resolver(env, rules, pii);
    const resolved: { item: Item; out: Outcome }[] = [];
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
    if (unresolved.length) await sendUnresolved(env, unresolved, onPoison);
    await flushDirectory(env, resolved);
    // Events without a profile count in the volume only.
    const applied = resolved.map(({ item, out }) => ({ ...item.body, profileId: out.profileId }));
    await recordRollups(env, [...applied, ...unresolved.map((m) => m.body)]);
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
  });
}
