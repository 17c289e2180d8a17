import { jsonBytes } from './json';

/** Every queue's name, as `wrangler.toml` declares it and `MessageBatch.queue` reports it. */
export const QUEUES = {
  ingest: 'tessera-ingest',
  ingestDlq: 'tessera-ingest-dlq',
  delivery: 'tessera-delivery',
  deliveryRetry: 'tessera-delivery-retry',
  deliveryDlq: 'tessera-delivery-dlq',
  archive: 'tessera-archive',
  replay: 'tessera-replay',
  work: 'tessera-work',
  workDlq: 'tessera-work-dlq',
} as const;

/** How large one `sendBatch` call may be. */
export interface ChunkLimits {
  maxMessages: number;
  /** UTF-8 bytes of the chunk's bodies; `Infinity` skips measuring them (the caller already did). */
  maxBytes: number;
}

/** Cloudflare Queues limits for one `sendBatch` call (100 messages, 256 KB), with headroom. */
export const SEND_BATCH_LIMITS: ChunkLimits = { maxMessages: 100, maxBytes: 200 * 1024 };

/**
 * Splits messages into `sendBatch`-sized chunks by count and serialised size, in order. Size is
 * counted in UTF-8 bytes, as the queue counts it: counting UTF-16 units let 15 events of 30 KB of
 * `€` pass as one 150 K chunk of 450 KB, which every retry of the request failed to send (a 503
 * forever). Throws if a message cannot be serialised.
 */
export function chunkForQueue<T>(messages: readonly T[], limits: ChunkLimits = SEND_BATCH_LIMITS): T[][] {
  const measure = Number.isFinite(limits.maxBytes);
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = measure ? jsonBytes(m) + 64 : 0;
    if (current.length && (current.length >= limits.maxMessages || bytes + size > limits.maxBytes)) {
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

/** Bodies as JSON queue messages. */
export const asJsonMessages = <T>(bodies: readonly T[]): MessageSendRequest<T>[] =>
  bodies.map((body) => ({ body, contentType: 'json' as const }));

/**
 * Sends bodies as JSON messages in `sendBatch`-sized chunks, one chunk after the other (so a
 * failure leaves the later chunks unsent), or all at once with `parallel` when order does not
 * matter and the caller retries the whole lot anyway.
 */
export async function sendJson<T>(queue: Queue<T>, bodies: readonly T[], opts: { parallel?: boolean } = {}) {
  const chunks = chunkForQueue(bodies);
  if (opts.parallel) {
    await Promise.all(chunks.map((chunk) => queue.sendBatch(asJsonMessages(chunk))));
    return;
  }
  for (const chunk of chunks) await queue.sendBatch(asJsonMessages(chunk));
}

/** Sends ready-made messages (with their own options) in `sendBatch`-sized chunks, in order. */
export async function sendMessages<T>(queue: Queue<T>, messages: readonly MessageSendRequest<T>[]): Promise<void> {
  for (const chunk of chunkForQueue(messages)) await queue.sendBatch(chunk);
}
