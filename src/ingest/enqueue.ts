import { sendJson } from '../lib/queue';
import { usage } from '../usage/counters';
import { isPacked, packIngest } from './packed';
import type { IngestMessage } from './spec';

// Where the Profile DO still imports it from (src/profiles is being moved by h/profile-home);
// the coordinator points that import at src/lib/queue.ts when both land, then this line goes.

/**
 * Makes accepted events durable, packed into as few messages as the queue's size allows
 * (`packed.ts`). Resolves only once every chunk is in the queue; a rejection must become a 5xx so
 * the client retries (duplicates are harmless: messageId dedupes).
 */
export async function enqueueIngest(
  queue: Queue,
  messages: IngestMessage[],
  opts: { replay?: boolean } = {},
): Promise<void> {
  const bodies = packIngest(messages);
  // A replayed event may have reached its profile before it failed: counted as a redelivery, so
  // the profile hands its delivery over again if it was logged but never sent (`ApplyInput.again`).
  await sendJson(
    queue,
    opts.replay
      ? bodies.map((b) => (isPacked(b) ? { ...b, priorAttempts: 1 } : { packed: [b], priorAttempts: 1 }))
      : bodies,
    { parallel: true },
  );
  // The usage meter's denominator: events that entered the pipeline (replays included), per source.
  const perSource = new Map<string, number>();
  for (const m of messages) perSource.set(m.sourceId, (perSource.get(m.sourceId) ?? 0) + 1);
  for (const [source, n] of perSource) usage.add({ stage: 'ingest', unit: 'events', source }, n);
}
