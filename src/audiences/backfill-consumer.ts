import { and, asc, count, eq, gt, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { engageDefinitions } from '../db/audiences-schema';
import { profileDirectory } from '../db/profiles-schema';
import { profileStub } from '../profiles/protocol';
import { type BackfillMessage, reportBackfillProgress } from './backfill';
import { type MembershipChange, recordMembershipChanges } from './membership';
import type { MembershipMessage } from './profile-engage';
import { findBackfill } from './store';

/** A back-fill message, on its first page (no cursor) or a later one. */
export interface BackfillPage extends BackfillMessage {
  /** Last profile id of the previous page. */
  cursor?: string;
}

/** Every `work` queue message this area handles. */
export type EngageWorkMessage = BackfillPage | MembershipMessage;

/** Profiles visited per page (one progress report), and at once. */
export const BACKFILL_PAGE = 100;
const CONCURRENCY = 16;
/** A message keeps visiting pages for this long, then hands over to a new message. */
const MESSAGE_BUDGET_MS = 10_000;
/** Membership changes per D1 batch (each is one statement, plus one per audience and day). */
const CHANGES_PER_BATCH = 200;

/**
 * The `work` queue consumer for audiences: membership changes of a batch are written to D1 together
 * (one `batch()` per 200 changes), and each back-fill message visits one page of profiles. Messages
 * are acked one by one; a failure retries only what it concerns.
 */
export async function consumeEngageWork(batch: MessageBatch<EngageWorkMessage>, env: Cloudflare.Env): Promise<void> {
  const membership = batch.messages.filter((m) => m.body.type === 'engage.membership');
  if (membership.length) {
    try {
      const changes: MembershipChange[] = membership.flatMap((m) => (m.body as MembershipMessage).changes);
      for (let i = 0; i < changes.length; i += CHANGES_PER_BATCH) {
        await recordMembershipChanges(env.DB, changes.slice(i, i + CHANGES_PER_BATCH));
      }
      for (const m of membership) m.ack();
    } catch (err) {
      console.error('audience membership write failed; retrying', err);
      for (const m of membership) m.retry({ delaySeconds: 5 });
    }
  }
  for (const m of batch.messages) {
    if (m.body.type !== 'engage.backfill') continue;
    try {
      await backfill(m.body, env);
      m.ack();
    } catch (err) {
      console.error('audience back-fill page failed; retrying', err);
      m.retry({ delaySeconds: Math.min(60, 2 ** m.attempts) });
    }
  }
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

  let next = 0;
  const worker = async () => {
    while (next < ids.length) await profileStub(env, ids[next++]).refreshAudiences(msg.revision);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, ids.length) }, worker));

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
