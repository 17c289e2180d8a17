import { describe, expect, it } from 'vitest';
import type { QueueMessageLike } from '../lib/queue-bodies';
import { INGEST_MAX_RETRIES, isPacked, PACK_BYTES, type PackedIngest, Packs, packIngest } from './packed';
import type { IngestMessage } from './spec';

const event = (i: number, bytes = 100): IngestMessage =>
  ({
    sourceId: 'src',
    event: { type: 'track', event: 'E', messageId: `m${i}`, properties: { pad: 'x'.repeat(bytes) } },
  }) as unknown as IngestMessage;

/** A queue message stand-in that records how it was settled. */
function message(body: unknown, attempts = 1) {
  const settled: { ack: number; retry: { delaySeconds?: number }[] } = { ack: 0, retry: [] };
  const msg: QueueMessageLike = {
    id: 'q1',
    attempts,
    body,
    ack: () => {
      settled.ack++;
    },
    retry: (o) => {
      settled.retry.push(o ?? {});
    },
  };
  return { msg, settled };
}

describe('packIngest', () => {
  it('packs consecutive events up to the byte limit; a lone event travels as itself', () => {
    const small = Array.from({ length: 30 }, (_, i) => event(i));
    const bodies = packIngest(small);
    expect(bodies).toHaveLength(1);
    expect((bodies[0] as PackedIngest).packed).toHaveLength(30);
    expect(packIngest([event(1)])).toEqual([event(1)]);
    const big = Array.from({ length: 10 }, (_, i) => event(i, 30_000));
    const packed = packIngest(big);
    expect(packed.length).toBe(3); // 4 + 4 + 2 events of ~30 KB under 120 KB
    for (const b of packed) expect(JSON.stringify(b).length).toBeLessThanOrEqual(PACK_BYTES + 100);
    expect(packed.flatMap((b) => (isPacked(b) ? b.packed : [b]))).toEqual(big);
  });
});

describe('Packs', () => {
  const body = { packed: [event(0), event(1), event(2)] };
  const sends = () => {
    const again: { body: PackedIngest; delay: number }[] = [];
    const dead: unknown[] = [];
    return {
      again,
      dead,
      s: {
        again: async (b: PackedIngest, delay: number) => {
          again.push({ body: b, delay });
        },
        deadLetter: async (b: unknown) => {
          dead.push(b);
        },
      },
    };
  };

  it('hands out one part per event and acks the message once every part is acked', async () => {
    const { msg, settled } = message(body);
    const packs = new Packs();
    const parts = packs.expand([msg]);
    expect(parts.map((p) => p.id)).toEqual(['q1#0', 'q1#1', 'q1#2']);
    expect(parts.map((p) => p.body)).toEqual(body.packed);
    for (const p of parts) p.ack();
    const x = sends();
    await packs.finish(x.s);
    expect(settled).toEqual({ ack: 1, retry: [] });
    expect(x.again).toEqual([]);
  });

  it('sends only the events that must be retried again, with their attempts, and acks the message', async () => {
    const { msg, settled } = message(body, 3);
    const packs = new Packs();
    const parts = packs.expand([msg]);
    parts[0].ack();
    parts[1].retry({ delaySeconds: 8 });
    parts[2].ack();
    const x = sends();
    await packs.finish(x.s);
    expect(x.again).toEqual([{ body: { packed: [event(1)], priorAttempts: 3 }, delay: 8 }]);
    expect(settled).toEqual({ ack: 1, retry: [] });
    // The event sent again counts its attempts on: the next delivery's part says 4.
    const next = message(x.again[0].body, 1);
    expect(new Packs().expand([next.msg])[0].attempts).toBe(4);
  });

  it('gives every part its queue message and index, and names the events handed over to a new message', async () => {
    const sentAt = Date.parse('2026-12-02T03:00:00Z');
    const { msg } = message(body);
    const packs = new Packs();
    const parts = packs.expand([{ ...msg, timestamp: new Date(sentAt) }]);
    expect(parts.map((p) => p.origin)).toEqual([0, 1, 2].map((index) => ({ id: 'q1', index, sentAt })));
    const lone = message(event(9));
    expect(new Packs().expand([lone.msg])[0].origin).toEqual({ id: 'q1', index: 0, sentAt: Number.NaN });
    parts[0].ack();
    parts[1].retry();
    parts[2].ack();
    const handed: unknown[] = [];
    await packs.finish({ ...sends().s, handedOver: async (origin, indexes) => handed.push({ origin, indexes }) });
    expect(handed).toEqual([{ origin: { id: 'q1', index: 0, sentAt }, indexes: [1] }]);
  });

  it('retries the whole message when every event failed, or when sending the failed ones fails', async () => {
    const all = message(body);
    const packs = new Packs();
    for (const p of packs.expand([all.msg])) p.retry({ delaySeconds: 2 });
    await packs.finish(sends().s);
    expect(all.settled).toEqual({ ack: 0, retry: [{ delaySeconds: 2 }] });

    const some = message(body);
    const p2 = new Packs();
    const parts = p2.expand([some.msg]);
    parts[0].retry({ delaySeconds: 5 });
    await p2.finish({
      again: async () => {
        throw new Error('queue down');
      },
    });
    expect(some.settled).toEqual({ ack: 0, retry: [{ delaySeconds: 5 }] });
  });

  it('an event past the retry limit goes to the dead letters alone', async () => {
    const { msg, settled } = message({ ...body, priorAttempts: INGEST_MAX_RETRIES - 1 }, 1);
    const packs = new Packs();
    const parts = packs.expand([msg]);
    parts[0].ack();
    parts[1].ack();
    parts[2].retry();
    const x = sends();
    await packs.finish(x.s);
    expect(x.dead).toEqual([event(2)]);
    expect(x.again).toEqual([]);
    expect(settled.ack).toBe(1);
  });

  it('leaves a plain message and an unreadable one as they are', () => {
    const plain = message(event(9));
    const broken: QueueMessageLike = {
      id: 'bad',
      attempts: 1,
      get body(): unknown {
        throw new RangeError('Maximum call stack size exceeded');
      },
      ack() {},
      retry() {},
    };
    const out = new Packs().expand([plain.msg, broken]);
    expect(out.map((m) => m.id)).toEqual(['q1', 'bad']);
    expect(out[0].body).toEqual(event(9));
    out[0].ack();
    expect(plain.settled.ack).toBe(1);
    expect(() => out[1].body).toThrow(RangeError);
  });
});
