import { jsonBytes } from '../lib/json';
import { usage } from '../usage/counters';
import { packIngest } from './packed';
import type { IngestMessage } from './spec';

/** Cloudflare Queues limits for one `sendBatch` call (100 messages, 256 KB), with headroom. */
const MAX_MESSAGES = 100;
const MAX_BYTES = 200 * 1024;

/**
 * Splits messages into `sendBatch`-sized chunks by count and serialised size. Size is counted in
 * UTF-8 bytes, as the queue counts it: counting UTF-16 units let 15 events of 30 KB of `€` pass
 * as one 150 K chunk of 450 KB, which every retry of the request failed to send (a 503 forever).
 */
export function chunkForQueue<T>(messages: T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = jsonBytes(m) + 64;
    if (current.length && (current.length >= MAX_MESSAGES || bytes + size > MAX_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/**
 * Makes accepted events durable, packed into as few messages as the queue's size allows
 * (`packed.ts`). Resolves only once every chunk is in the queue; a rejection must become a 5xx so
 * the client retries (duplicates are harmless: messageId dedupes).
 */
export async function enqueueIngest(queue: Queue, messages: IngestMessage[]): Promise<void> {
  await Promise.all(
    chunkForQueue(packIngest(messages)).map((chunk) =>
      queue.sendBatch(chunk.map((body) => ({ body, contentType: 'json' as const }))),
    ),
  );
  // The usage meter's denominator: events that entered the pipeline (replays included), per source.
  const perSource = new Map<string, number>();
  for (const m of messages) perSource.set(m.sourceId, (perSource.get(m.sourceId) ?? 0) + 1);
  for (const [source, n] of perSource) usage.add({ stage: 'ingest', unit: 'events', source }, n);
}
