import type { OutboundEvent } from '../delivery/messages';
import { extractIdentifiers, keyOf } from '../identity/identifiers';
import { Resolver } from '../identity/resolver';
import { type Rules, usable } from '../identity/settings';
import { loadRules } from '../identity/settings-store';
import { DirectoryBatch } from '../profiles/directory';
import { chunkForQueue } from './enqueue';
import type { IngestMessage } from './spec';

/** Groups resolved at once; events within a group go one after another. */
const PARALLEL_GROUPS = 16;

/**
 * Splits a batch into groups of events that share an identifier (transitively). Groups touch
 * disjoint identities, so they resolve in parallel without racing each other; events of one
 * person stay in arrival order.
 */
export function groupByIdentity<T extends { body: IngestMessage }>(messages: readonly T[], rules: Rules): T[][] {
  const parent = messages.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const firstWithKey = new Map<string, number>();
  messages.forEach((m, i) => {
    const e = m.body.event;
    const ids = [...extractIdentifiers(e, 'users'), ...extractIdentifiers(e, 'accounts')];
    const keys = usable(rules, ids).map(keyOf);
    // Grouping may over-approximate (it only costs parallelism): an alias may name either kind.
    if (e.type === 'alias') keys.push(`user_id:${e.previousId}`, `anonymous_id:${e.previousId}`);
    for (const key of keys) {
      const j = firstWithKey.get(key);
      if (j === undefined) firstWithKey.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, T[]>();
  messages.forEach((m, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), m]);
  });
  return [...groups.values()];
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The `ingest` queue consumer: resolves each event's identity, applies it to its profile (whose
 * outbox feeds the `delivery` queue) and records the touched profiles in the D1 directory, one
 * batch of writes per queue batch. Messages are acked one by one, after the directory write, so
 * a failure retries only what it concerns; a redelivered message is a no-op (messageId dedupe).
 */
export async function consumeIngest(batch: MessageBatch<IngestMessage>, env: Cloudflare.Env): Promise<void> {
  const rules = await loadRules(env.DB);
  const resolver = new Resolver(env, rules);
  const directory = new DirectoryBatch();
  const resolved: Message<IngestMessage>[] = [];
  const unresolved: OutboundEvent[] = [];
  const unresolvedMsgs: Message<IngestMessage>[] = [];

  await inParallel(groupByIdentity(batch.messages, rules), PARALLEL_GROUPS, async (group) => {
    const outcomes = await resolver.ingestAll(group.map((m) => m.body));
    group.forEach((msg, i) => {
      const out = outcomes[i];
      if (out instanceof Error) {
        console.error('identity resolution failed; message will be retried', out);
        msg.retry({ delaySeconds: Math.min(60, 2 ** msg.attempts) });
        return;
      }
      for (const s of out.snapshots) directory.add(s);
      for (const m of out.merges) directory.addMerge(m);
      if (out.profileId || out.accountId) {
        resolved.push(msg);
      } else {
        // No usable identifier (all blocked): no profile, but destinations still get the event.
        unresolved.push({ kind: 'event', sourceId: msg.body.sourceId, event: msg.body.event });
        unresolvedMsgs.push(msg);
      }
    });
  });

  try {
    if (unresolved.length) {
      for (const chunk of chunkForQueue(unresolved)) {
        await env.DELIVERY_QUEUE.sendBatch(chunk.map((body) => ({ body, contentType: 'json' as const })));
      }
    }
    for (const m of unresolvedMsgs) m.ack();
  } catch (err) {
    console.error('delivery enqueue failed', err);
    for (const m of unresolvedMsgs) m.retry();
  }
  try {
    await directory.flush(env.DB);
    for (const m of resolved) m.ack();
  } catch (err) {
    // Replaying is safe: the profiles dedupe, and answer with their snapshot again.
    console.error('profile directory write failed; messages will be retried', err);
    for (const m of resolved) m.retry({ delaySeconds: 5 });
  }
  await resolver.flush().catch((err) => console.warn('index repoint failed', err));
}
