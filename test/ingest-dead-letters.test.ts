import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { consumeIngestDlq } from '../src/ingest/dead-letters';
import type { EnrichedEvent, IngestMessage } from '../src/ingest/spec';
import { ADMIN, env, makeSource, SELF, uniq, waitForEvents } from './kit/workers';

function deadLetter(sourceId: string, userId: string, messageId: string): IngestMessage {
  const now = new Date().toISOString();
  const event = {
    type: 'track',
    event: 'Lost?',
    userId,
    messageId,
    timestamp: now,
    receivedAt: now,
    originalTimestamp: now,
    context: {},
  };
  return { sourceId, event: event as EnrichedEvent };
}

async function runDlq(bodies: IngestMessage[]) {
  const batch = createMessageBatch<IngestMessage>(
    'tessera-ingest-dlq',
    bodies.map((body, i) => ({ id: `dl-${i}-${body.event.messageId}`, timestamp: new Date(), attempts: 101, body })),
  );
  await consumeIngestDlq(batch, env);
  return getQueueResult(batch, createExecutionContext());
}

describe('ingest dead letters', () => {
  it('records dead-lettered events once each, and a replay lands them on their profile', async () => {
    const source = await makeSource('DLQ');
    const userId = uniq('dlq-user');
    const messages = [deadLetter(source.id, userId, uniq('m')), deadLetter(source.id, userId, uniq('m'))];
    const first = await runDlq(messages);
    expect(first.explicitAcks.length).toBe(2);
    await runDlq(messages); // the DLQ redelivers: still one row per event

    const list = await (await SELF.fetch('http://x/api/ingest/failures', { headers: ADMIN })).json<{
      total: number;
      data: { messageId: string; sourceId: string; attempts: number }[];
    }>();
    expect(list.total).toBe(2);
    expect(list.data.map((d) => d.messageId).sort()).toEqual(messages.map((m) => m.event.messageId).sort());
    expect(list.data[0]).toMatchObject({ sourceId: source.id, attempts: 101 });

    const replay = await SELF.fetch('http://x/api/ingest/failures/replay', { method: 'POST', headers: ADMIN });
    expect(await replay.json()).toEqual({ replayed: 2 });
    await waitForEvents(`user_id:${userId}`, 2);
    const after = await (await SELF.fetch('http://x/api/ingest/failures', { headers: ADMIN })).json<{
      total: number;
    }>();
    expect(after.total).toBe(0);
  });

  it('requires a token', async () => {
    for (const res of [
      await SELF.fetch('http://x/api/ingest/failures'),
      await SELF.fetch('http://x/api/ingest/failures/replay', { method: 'POST' }),
    ]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({
        error: { code: 'unauthorized', message: expect.stringMatching(/token/) },
      });
    }
  });
});
