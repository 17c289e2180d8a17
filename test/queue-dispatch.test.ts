// The queue entrypoint: every queue wired to the Worker reaches its consumer, and a queue no code
// handles is retried (with a log line), never acked into oblivion.
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import main from '../src/index';
import { rows } from './kit/queue';
import { env, uniq } from './kit/workers';

describe('queue dispatcher', () => {
  it('retries the messages of a queue it has no consumer for', async () => {
    const batch = createMessageBatch('tessera-not-a-queue', [
      { id: 'u-1', timestamp: new Date(), attempts: 1, body: { a: 1 } },
      { id: 'u-2', timestamp: new Date(), attempts: 1, body: { a: 2 } },
    ]);
    const ctx = createExecutionContext();
    await main.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual([]);
    expect(result.ackAll).toBe(false);
    expect(result.retryBatch.retry).toBe(true);
  });

  it('hands the work dead-letter queue to its consumer', async () => {
    const id = uniq('work-dlq');
    const batch = createMessageBatch('tessera-work-dlq', [
      {
        id,
        timestamp: new Date(),
        attempts: 1,
        body: { type: 'engage.backfill', definitionId: 'd', version: 1, revision: 1 },
      },
    ]);
    const ctx = createExecutionContext();
    await main.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([id]);
    expect(await rows('SELECT type FROM work_failures WHERE message_id = ?', id)).toEqual([
      { type: 'engage.backfill' },
    ]);
  });
});
