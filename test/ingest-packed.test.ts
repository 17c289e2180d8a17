// The events of one request share ingest queue messages; each still succeeds, fails or is
// recorded on its own, and the message is settled once all of them are.
import { describe, expect, it } from 'vitest';
import { consumeIngest } from '../src/ingest/consumer';
import type { PackedIngest } from '../src/ingest/packed';
import type { IngestMessage } from '../src/ingest/spec';
import { rows, testBatch } from './kit/queue';
import './settle';
import { ADMIN, basic, env, ingestMessage, makeSource, post, SELF, uniq, waitForEvents } from './kit/workers';

const track = (sourceId: string, userId: string, event = 'Packed') =>
  ingestMessage({ type: 'track', event, userId }, { messageId: uniq('m'), sourceId });

async function ingestMessagesSent(): Promise<number> {
  await SELF.fetch('http://x/api/usage/flush', { method: 'POST', headers: ADMIN });
  const r = await (await SELF.fetch('http://x/api/usage', { headers: ADMIN })).json<{
    groups: { key: string; details: Record<string, Record<string, number>> }[];
  }>();
  return r.groups.find((g) => g.key === 'ingest')?.details['queue.messages']?.['tessera-ingest'] ?? 0;
}

describe('packed ingest messages', () => {
  it('a /v1/batch request of 30 events is one queue message, and every event reaches its profile', {
    timeout: 30_000,
  }, async () => {
    const source = await makeSource('Packed batch');
    const users = Array.from({ length: 3 }, () => uniq('packed'));
    const before = await ingestMessagesSent();
    const batch = Array.from({ length: 30 }, (_, i) => ({ type: 'track', event: 'Batched', userId: users[i % 3] }));
    expect((await post('/v1/batch', { batch }, { authorization: basic(source.writeKey) })).status).toBe(200);
    expect((await ingestMessagesSent()) - before).toBe(1);
    for (const u of users) await waitForEvents(`user_id:${u}`, 10);
  });

  it('a poison event and a malformed one in a packed message are recorded alone; the others land; the message is acked', async () => {
    const source = await makeSource('Packed poison');
    const [a, b] = [uniq('pa'), uniq('pb')];
    const bad = track(source.id, a, 'Unstorable');
    (bad.event as { properties?: unknown }).properties = { huge: 10n ** 30n };
    const body: PackedIngest = {
      packed: [
        track(source.id, a),
        bad,
        track(source.id, b),
        { sourceId: source.id, event: null },
        track(source.id, b),
      ],
    };
    const t = testBatch<IngestMessage | PackedIngest>('tessera-ingest', [{ body }]);
    await consumeIngest(t.batch as MessageBatch<IngestMessage>, env);
    const result = await t.result();
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks]).toEqual([t.ids[0]]);
    expect([...t.reads.values()]).toEqual([1]);
    await waitForEvents(`user_id:${a}`, 1);
    await waitForEvents(`user_id:${b}`, 2);
    const recorded = await rows<{ message_id: string; error: string }>(
      'SELECT message_id, error FROM ingest_failures WHERE message_id IN (?, ?) ORDER BY message_id',
      `queue:${t.ids[0]}#1`,
      `queue:${t.ids[0]}#3`,
    );
    expect(recorded.map((r) => r.message_id)).toEqual([`queue:${t.ids[0]}#1`, `queue:${t.ids[0]}#3`]);
    expect(recorded[0].error).toMatch(/serialize a BigInt/i);
    expect(recorded[1].error).toBe('body has no event');
  });
});
