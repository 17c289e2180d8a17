import { and, asc, count, eq, gt, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { engageDefinitions } from '../db/audiences-schema';
import { profileDirectory } from '../db/profiles-schema';
import { forEachLimited } from '../lib/pool';
import { errorText, isPoison, type Readable, readBodies } from '../lib/queue-bodies';
import { profileStub } from '../profiles/protocol';
import { type BackfillMessage, reportBackfillProgress } from './backfill';
import { type MembershipChange, type MembershipMessage, recordMembershipChanges } from './membership';
import { findBackfill } from './store';
import {
  recordWorkFailures,
  unreadableWorkFailure,
  type WorkFailure,
  workFailureOf,
  workMessageProblem,
} from './work-failures';
import type { BackfillPage, EngageWorkMessage } from './work-messages';

/** Profiles visited per page (one progress report), and at once. */
export const BACKFILL_PAGE = 100;
const CONCURRENCY = 16;
/** A message keeps visiting pages for this long, then hands over to a new message. */
const MESSAGE_BUDGET_MS = 10_000;
/** Membership changes per D1 batch (each is one statement, plus one per audience and day). */
const CHANGES_PER_BATCH = 200;

type Item = Readable<Message<EngageWorkMessage>, EngageWorkMessage>;

/** Writes membership changes in D1 batches of CHANGES_PER_BATCH. */
async function writeChanges(env: Cloudflare.Env, changes: MembershipChange[]): Promise<void> {
  for (let i = 0; i < changes.length; i += CHANGES_PER_BATCH) {
    await recordMembershipChanges(env.DB, changes.slice(i, i + CHANGES_PER_BATCH));
  }
}

/**
 * Membership changes of a batch are written together; when that fails, each message's changes are
 * written alone (replays are idempotent), so one bad message fails only itself.
 */
async function writeMembership(env: Cloudflare.Env, items: Item[], onFailure: (item: Item, err: unknown) => void) {
  const changesOf = (m: Item) => (m.body as MembershipMessage).changes;
  try {
    await writeChanges(env, items.flatMap(changesOf));
    for (const m of items) m.msg.ack();
    return;
  } catch (err) {
    console.error('audience membership write failed; writing message by message', errorText(err));
  }
  for (const m of items) {
    try {
      await writeChanges(env, changesOf(m));
      m.msg.ack();
    } catch (err) {
      onFailure(m, err);
    }
  }
}

/**
 * The `work` queue consumer for audiences: membership changes of a batch are written to D1 together
 * (one `batch()` per 200 changes), and each back-fill message visits one page of profiles. Messages
 * are acked one by one; a failure retries only what it concerns.
 *
 * Each body is read once, in its own `try`: a message that cannot be read, is not a work message,
 * or fails in a way no retry can fix is recorded in `work_failures` and acked. Anything else is
 * retried, and after the queue's retries it reaches the `work` dead-letter queue, which records it.
 */
export async function consumeEngageWork(batch: MessageBatch<EngageWorkMessage>, env: Cloudflare.Env): Promise<void> {
  const { readable, unreadable } = readBodies<Message<EngageWorkMessage>, EngageWorkMessage>(
    batch.messages,
    workMessageProblem,
  );
  const failed: { msg: Message<EngageWorkMessage>; row: WorkFailure }[] = unreadable.map((u) => ({
    msg: u.msg,
    row: unreadableWorkFailure(u, batch.queue),
  }));
  for (const f of failed) console.error('unreadable work message; recording it', f.msg.id, f.row.error);
  const onFailure = (item: Item, err: unknown, what: string) => {
    if (isPoison(err)) {
      console.error(`${what} cannot be processed; recording it`, item.msg.id, errorText(err));
      failed.push({ msg: item.msg, row: workFailureOf(item.msg, item.body, batch.queue, errorText(err)) });
      return;
    }
    console.error(`${what} failed; retrying`, errorText(err));
    item.msg.retry({ delaySeconds: Math.min(60, 2 ** item.msg.attempts) });
  };

  const membership = readable.filter((m) => m.body.type === 'engage.membership');
  if (membership.length)
    await writeMembership(env, membership, (m, err) => onFailure(m, err, 'audience membership write'));
  for (const m of readable) {
    if (m.body.type !== 'engage.backfill') continue;
    try {
      await backfill(m.body, env);
      m.msg.ack();
    } catch (err) {
      onFailure(m, err, 'audience back-fill page');
    }
  }

  const written = await recordWorkFailures(
    env.DB,
    failed.map((f) => f.row),
  );
  failed.forEach((f, i) => {
    if (written[i]) f.msg.ack();
    else f.msg.retry({ delaySeconds: 30 });
  });
}

/** Visits pages for up to MESSAGE_BUDGET_MS, then queues a message to go on (if not finished). */
export async function backfill(msg: BackfillPage, env: Cloudflare.Env, budgetMs = MESSAGE_BUDGET_MS): Promise<void> {
  const until = Date.now() + budgetMs;
  for (;;) {
    const page = await backfillPage(msg, env);
    if (page.next === undefined) return;
    if (Date.now() >= until) {
      await env.WORK_QUEUE.send({ ...msg, cursor: page.next } satisfies BackfillPage, { contentType: 'json' });
      return;
    }
  }
}

/**
 * Visits the next page of live profiles of the definition's collection (by id, after the stored
 * cursor), has each re-evaluate at least at the message's revision, then advances the progress
 * (compare-and-set on the cursor). The first page counts the profiles; the last fixes the total to
 * what was visited, which makes it `ready`. Returns the cursor to go on from, unless finished. A
 * message is only a nudge: redelivered or retried, it continues from the stored cursor, and a page
 * is never counted twice.
 */
export async function backfillPage(msg: BackfillPage, env: Cloudflare.Env): Promise<{ next?: string }> {
  const db = drizzle(env.DB);
  const def = await db.select().from(engageDefinitions).where(eq(engageDefinitions.id, msg.definitionId)).get();
  if (!def || def.version !== msg.version) return {}; // the newer version's back-fill covers it
  const progress = await findBackfill(env.DB, msg.definitionId, msg.version);
  if (progress?.status !== 'computing') return {};

  const after = progress.cursor;
  const collection = (JSON.parse(def.body) as { collection?: string }).collection ?? 'users';
  const live = and(eq(profileDirectory.collection, collection), isNull(profileDirectory.mergedInto));
  const total =
    after === null ? ((await db.select({ n: count() }).from(profileDirectory).where(live).get())?.n ?? 0) : undefined;
  const ids = (
    await db
      .select({ id: profileDirectory.id })
      .from(profileDirectory)
      .where(after === null ? live : and(live, gt(profileDirectory.id, after)))
      .orderBy(asc(profileDirectory.id))
      .limit(BACKFILL_PAGE)
      .all()
  ).map((r) => r.id);

  await forEachLimited(ids, CONCURRENCY, async (id) => {
    await profileStub(env, id).refreshAudiences(msg.revision);
  });

  const last = ids.length < BACKFILL_PAGE;
  const advanced = await reportBackfillProgress(env.DB, {
    definitionId: msg.definitionId,
    version: msg.version,
    processed: ids.length,
    total: last ? progress.processed + ids.length : total,
    cursor: ids.at(-1),
    from: after,
  });
  return advanced && !last ? { next: ids[ids.length - 1] } : {};
}
