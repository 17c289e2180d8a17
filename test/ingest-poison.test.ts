// A message that cannot be read or handled costs nobody else anything: the ingest consumer and its
// dead-letter consumer record it in D1 and ack it, and every other event of its batch goes on.
import { describe, expect, it } from 'vitest';
import { consumeIngest } from '../src/ingest/consumer';
import { consumeIngestDlq } from '../src/ingest/dead-letters';
import type { IngestMessage } from '../src/ingest/spec';
import { rows, testBatch } from './kit/queue';
import {
  ADMIN,
  basic,
  env,
  eventually,
  ingestMessage,
  makeSource,
  post,
  SELF,
  uniq,
  waitForEvents,
} from './kit/workers';

interface FailureRow {
  message_id: string;
  source_id: string;
  body: string;
  attempts: number;
  queue: string;
  error: string;
  replayable: number;
}

const track = (sourceId: string, userId: string, event = 'Valid') =>
  ingestMessage({ type: 'track', event, userId }, { messageId: uniq('m'), sourceId });

describe('ingest consumer: poison messages', () => {
  it('on the real queue, malformed messages are recorded and acked; every valid event reaches its profile', {
    timeout: 30_000,
  }, async () => {
    const source = await makeSource('Poison mix');
    const marker = uniq('poison');
    const users = Array.from({ length: 5 }, () => uniq('victim'));
    const valid = users.flatMap((u) => [track(source.id, u), track(source.id, u), track(source.id, u)]);
    const poison: unknown[] = [{ sourceId: marker, event: null }, `${marker} not even an object`];
    // Poison in the middle of the batch, as it would arrive among concurrent traffic.
    const bodies = [...valid.slice(0, 7), ...poison, ...valid.slice(7)];
    await env.INGEST_QUEUE.sendBatch(bodies.map((body) => ({ body, contentType: 'json' as const })));

    for (const u of users) await waitForEvents(`user_id:${u}`, 3);
    const recorded = await eventually(async () => {
      const r = await rows<FailureRow>('SELECT * FROM ingest_failures WHERE body LIKE ?', `%${marker}%`);
      return r.length === 2 ? r : undefined;
    });
    for (const r of recorded) {
      // Recorded by the consumer itself on the first delivery: acked, not retried on the way to the DLQ.
      expect(r).toMatchObject({ queue: 'tessera-ingest', attempts: 1, replayable: 0, source_id: '' });
      expect(r.message_id).toMatch(/^queue:/);
    }
    expect(recorded.map((r) => r.error).sort()).toEqual(['body has no event', 'body is not an object']);
  });

  it('poison put on the queue among concurrent Tracking API calls costs none of them', {
    timeout: 30_000,
  }, async () => {
    const source = await makeSource('Concurrent poison');
    const marker = uniq('concurrent-poison');
    const users = Array.from({ length: 20 }, () => uniq('busy'));
    const calls = users.flatMap((userId) =>
      [1, 2, 3].map(
        (n) => () => post('/v1/track', { userId, event: `Call ${n}` }, { authorization: basic(source.writeKey) }),
      ),
    );
    const poison = Array.from(
      { length: 6 },
      (_, i) => () => env.INGEST_QUEUE.send({ sourceId: source.id, event: { marker, n: i } }, { contentType: 'json' }),
    );
    // Interleave: a poison message after every tenth call, all in flight together.
    const all = calls.flatMap((call, i) =>
      i % 10 === 9 && poison[(i - 9) / 10] ? [call, poison[(i - 9) / 10]] : [call],
    );
    const answers = await Promise.all(all.map((f) => f()));
    for (const a of answers) if (a instanceof Response) expect(a.status).toBe(200);

    for (const u of users) await waitForEvents(`user_id:${u}`, 3);
    const recorded = await eventually(async () => {
      const r = await rows<FailureRow>('SELECT * FROM ingest_failures WHERE body LIKE ?', `%${marker}%`);
      return r.length === 6 ? r : undefined;
    });
    expect(new Set(recorded.map((r) => r.error))).toEqual(new Set(['event has no type']));
  });

  it('a body that cannot be deserialised fails only itself, and each body is read once', async () => {
    const source = await makeSource('Unreadable');
    const [a, b] = [uniq('reader'), uniq('reader')];
    const t = testBatch<IngestMessage>('tessera-ingest', [
      { body: track(source.id, a) },
      { unreadable: true },
      { body: track(source.id, b) },
      { body: track(source.id, a) },
      { unreadable: true },
      { body: track(source.id, b) },
    ]);
    await consumeIngest(t.batch, env);
    const result = await t.result();
    expect(result.retryMessages).toEqual([]);
    expect(result.retryBatch.retry).toBe(false);
    expect([...result.explicitAcks].sort()).toEqual([...t.ids].sort());
    expect([...t.reads.values()].every((n) => n === 1)).toBe(true);
    await waitForEvents(`user_id:${a}`, 2);
    await waitForEvents(`user_id:${b}`, 2);

    const recorded = await rows<FailureRow>(
      'SELECT * FROM ingest_failures WHERE message_id IN (?, ?) ORDER BY message_id',
      `queue:${t.ids[1]}`,
      `queue:${t.ids[4]}`,
    );
    expect(recorded).toHaveLength(2);
    for (const r of recorded) {
      expect(r).toMatchObject({ queue: 'tessera-ingest', replayable: 0, body: '' });
      expect(r.error).toContain('Maximum call stack size exceeded');
    }
  });

  it('an event that breaks its profile apply fails alone, not the run of its user’s events', async () => {
    const source = await makeSource('Bad apply');
    const user = uniq('runner');
    // A first event makes the user known, so the next ones are applied together in one call.
    await consumeIngest(testBatch<IngestMessage>('tessera-ingest', [{ body: track(source.id, user) }]).batch, env);
    await waitForEvents(`user_id:${user}`, 1);

    // A BigInt survives the queue's structured clone but no JSON: the profile cannot store the event.
    const bad = track(source.id, user, 'Unstorable');
    (bad.event as { properties?: unknown }).properties = { huge: 10n ** 30n };
    const t = testBatch<IngestMessage>('tessera-ingest', [
      { body: track(source.id, user) },
      { body: bad },
      { body: track(source.id, user) },
    ]);
    await consumeIngest(t.batch, env);
    const result = await t.result();
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks].sort()).toEqual([...t.ids].sort());
    await waitForEvents(`user_id:${user}`, 3);

    const [row] = await rows<FailureRow>('SELECT * FROM ingest_failures WHERE message_id = ?', `queue:${t.ids[1]}`);
    expect(row).toMatchObject({ queue: 'tessera-ingest', replayable: 0 });
    expect(row.error).toMatch(/serialize a BigInt/i);
  });
});

describe('ingest dead-letter consumer: nothing is dropped', () => {
  it('records an unreadable dead letter with what is known of it, acks both, and replays only the readable one', async () => {
    const source = await makeSource('DLQ poison');
    const user = uniq('dlq');
    const good = track(source.id, user, 'Dead letter');
    const t = testBatch<IngestMessage>('tessera-ingest-dlq', [{ unreadable: true }, { body: good }], 101);
    await consumeIngestDlq(t.batch, env);
    const result = await t.result();
    expect(result.retryMessages).toEqual([]);
    expect([...result.explicitAcks].sort()).toEqual([...t.ids].sort());

    const list = await (await SELF.fetch('http://x/api/ingest/failures?limit=500', { headers: ADMIN })).json<{
      data: { messageId: string; replayable: boolean; error: string | null; queue: string; raw?: string }[];
    }>();
    const unreadable = list.data.find((d) => d.messageId === `queue:${t.ids[0]}`);
    expect(unreadable).toMatchObject({ replayable: false, queue: 'tessera-ingest-dlq', raw: '' });
    expect(unreadable?.error).toContain('Maximum call stack size exceeded');
    expect(list.data.find((d) => d.messageId === good.event.messageId)).toMatchObject({ replayable: true });

    await SELF.fetch('http://x/api/ingest/failures/replay', { method: 'POST', headers: ADMIN });
    await waitForEvents(`user_id:${user}`, 1);
    // The unreadable row stays for an operator to see; it is never replayed.
    expect(await rows('SELECT 1 FROM ingest_failures WHERE message_id = ?', `queue:${t.ids[0]}`)).toHaveLength(1);
    expect(await rows('SELECT 1 FROM ingest_failures WHERE message_id = ?', good.event.messageId)).toHaveLength(0);
    // …until an operator discards it.
    const path = `http://x/api/ingest/failures/${encodeURIComponent(`queue:${t.ids[0]}`)}`;
    expect((await SELF.fetch(path, { method: 'DELETE' })).status).toBe(401);
    expect((await SELF.fetch(path, { method: 'DELETE', headers: ADMIN })).status).toBe(204);
    expect((await SELF.fetch(path, { method: 'DELETE', headers: ADMIN })).status).toBe(404);
    expect(await rows('SELECT 1 FROM ingest_failures WHERE message_id = ?', `queue:${t.ids[0]}`)).toHaveLength(0);
  });

  it('keeps a minimal row of a body too large for D1, instead of retrying until the queue drops it', async () => {
    const source = await makeSource('DLQ huge');
    const huge = track(source.id, uniq('huge'), 'Huge');
    // Over D1's 2 MB row limit (a queue never carries this much; createMessageBatch does).
    (huge.event as { properties?: unknown }).properties = { blob: 'x'.repeat(2_100_000) };
    const t = testBatch<IngestMessage>('tessera-ingest-dlq', [{ body: huge }], 101);
    await consumeIngestDlq(t.batch, env);
    const result = await t.result();
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual(t.ids);
    const [row] = await rows<FailureRow>('SELECT * FROM ingest_failures WHERE message_id = ?', huge.event.messageId);
    expect(row).toMatchObject({ replayable: 0, source_id: source.id });
    expect(row.body.length).toBe(100_000);
    expect(row.error).toContain('minimal row');
  });
});
