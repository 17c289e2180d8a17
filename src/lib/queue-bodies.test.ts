import { describe, expect, it } from 'vitest';
import {
  backoffSeconds,
  DLQ_MAX_RETRIES,
  isPoison,
  keepDeadLetter,
  type QueueMessageLike,
  readBodies,
  safeStringify,
} from './queue-bodies';

/** A message as a consumer sees it, recording what was done with it. */
function message(id: string, body: () => unknown, attempts = 1) {
  const done: { acked: boolean; retried?: number } = { acked: false };
  let reads = 0;
  const msg: QueueMessageLike = {
    id,
    attempts,
    get body() {
      reads++;
      return body();
    },
    ack: () => {
      done.acked = true;
    },
    retry: (o) => {
      done.retried = o?.delaySeconds ?? 0;
    },
  };
  return { msg, done, reads: () => reads };
}

const overflow = () => {
  throw new RangeError('Maximum call stack size exceeded');
};

describe('readBodies', () => {
  it('reads each body once and sorts messages into readable and not', () => {
    const ok = message('ok', () => ({ n: 1 }));
    const deep = message('deep', overflow);
    const wrong = message('wrong', () => ({ n: 'x' }));
    const checker = message('checker', () => ({ boom: true }));
    const check = (b: unknown) => {
      if ((b as { boom?: boolean }).boom) throw new TypeError('check broke');
      return typeof (b as { n: unknown }).n === 'number' ? null : 'n is not a number';
    };
    const { readable, unreadable } = readBodies([ok.msg, deep.msg, wrong.msg, checker.msg], check);
    expect(readable.map((r) => [r.msg.id, r.body])).toEqual([['ok', { n: 1 }]]);
    expect(unreadable.map((u) => [u.msg.id, u.error, u.raw])).toEqual([
      ['deep', 'body could not be read: RangeError: Maximum call stack size exceeded', null],
      ['wrong', 'n is not a number', '{"n":"x"}'],
      ['checker', 'body could not be checked: TypeError: check broke', '{"boom":true}'],
    ]);
    for (const m of [ok, deep, wrong, checker]) expect(m.reads()).toBe(1);
  });
});

describe('safeStringify', () => {
  it('answers null instead of throwing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(safeStringify(cyclic)).toBeNull();
    expect(safeStringify({ n: 1n })).toBeNull();
    expect(safeStringify(undefined)).toBeNull();
    expect(safeStringify({ a: [1] })).toBe('{"a":[1]}');
  });
});

describe('isPoison', () => {
  it('tells errors the message causes from errors worth a retry', () => {
    let deep: unknown;
    try {
      let v: unknown = 1;
      for (let i = 0; i < 100_000; i++) v = { v };
      structuredClone(v);
    } catch (err) {
      deep = err;
    }
    expect(isPoison(deep)).toBe(true);
    expect(isPoison(new TypeError('Do not know how to serialize a BigInt'))).toBe(true);
    expect(isPoison(Object.assign(new Error('x could not be cloned'), { name: 'DataCloneError' }))).toBe(true);
    expect(isPoison(new Error('Network connection lost.'))).toBe(false);
    expect(isPoison(new Error('D1_ERROR: database is locked'))).toBe(false);
    expect(isPoison('a string')).toBe(false);
  });
});

describe('keepDeadLetter', () => {
  it('retries with a growing delay until the last delivery', async () => {
    const first = message('a', () => 1, 1);
    await keepDeadLetter(first.msg, async () => {
      throw new Error('must not requeue yet');
    });
    expect(first.done).toEqual({ acked: false, retried: 30 });
    const later = message('b', () => 1, 10);
    await keepDeadLetter(later.msg, undefined);
    expect(later.done.retried).toBe(3600);
    expect(backoffSeconds(2, 30, 3600)).toBe(60);
  });

  it('on the last delivery, puts a readable dead letter back on its queue instead of letting it drop', async () => {
    const last = message('c', () => 1, DLQ_MAX_RETRIES + 1);
    let requeued = 0;
    await keepDeadLetter(last.msg, async () => {
      requeued++;
    });
    expect(requeued).toBe(1);
    expect(last.done).toEqual({ acked: true });

    const failing = message('d', () => 1, DLQ_MAX_RETRIES + 1);
    await keepDeadLetter(failing.msg, async () => {
      throw new Error('queue down');
    });
    expect(failing.done.acked).toBe(false);
    expect(failing.done.retried).toBeGreaterThan(0);
  });
});
