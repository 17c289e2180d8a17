// Workers side of the kit: queue batches with readable-or-not bodies, and D1 rows.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';

/** What a message of a test batch carries: a body, or a body that throws when read. */
export type TestBody<T> = { body: T } | { unreadable: true };

/**
 * A real `MessageBatch` (acks and retries are recorded by `cloudflare:test`) whose messages count
 * how often their body is read, and where `{ unreadable: true }` stands for a body workerd cannot
 * deserialise: reading it throws the RangeError a value nested thousands deep does, as the lazy
 * `message.body` getter does in production. (`createMessageBatch` clones every body up front, so a
 * body that really overflows cannot be put into one; the real queues refuse to deliver one locally.)
 */
export function testBatch<T>(queue: string, items: TestBody<T>[], attempts = 1) {
  const real = createMessageBatch<T | null>(
    queue,
    items.map((it, i) => ({
      id: `${queue}-${i}-${crypto.randomUUID()}`,
      timestamp: new Date(),
      attempts,
      body: 'body' in it ? it.body : null,
    })),
  );
  const reads = new Map<string, number>();
  const messages: Message<T>[] = real.messages.map((m, i) => {
    const item = items[i];
    return {
      id: m.id,
      timestamp: m.timestamp,
      attempts: m.attempts,
      get body(): T {
        reads.set(m.id, (reads.get(m.id) ?? 0) + 1);
        if (!('body' in item)) throw new RangeError('Maximum call stack size exceeded');
        return m.body as T;
      },
      ack: () => m.ack(),
      retry: (o?: QueueRetryOptions) => m.retry(o),
    };
  });
  const batch: MessageBatch<T> = {
    queue,
    messages,
    metadata: real.metadata,
    ackAll: () => real.ackAll(),
    retryAll: (o?: QueueRetryOptions) => real.retryAll(o),
  };
  return {
    batch,
    ids: messages.map((m) => m.id),
    reads,
    result: () => getQueueResult(real, createExecutionContext()),
  };
}

/** Rows of a D1 table matching a WHERE clause. */
export async function rows<T>(sql: string, ...args: unknown[]): Promise<T[]> {
  return (
    await env.DB.prepare(sql)
      .bind(...args)
      .all<T>()
  ).results;
}
