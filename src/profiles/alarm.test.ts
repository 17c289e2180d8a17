import { describe, expect, it } from 'vitest';
import { ALARM_DELAY_MS, AlarmSlot, nextAlarmAt, owesAlarm } from './alarm';

const now = 1_000_000;
const owed = { engageAt: null, mergePending: false, seenMs: 14 * 86_400_000 };

describe('the Profile alarm schedule', () => {
  it('owes nothing after an apply of duplicates only', () => {
    expect(owesAlarm({ flushOutbox: true })).toBe(false);
    expect(nextAlarmAt({}, owed, now)).toBe(Number.POSITIVE_INFINITY);
  });

  it('arms the 30 s retry only after writing outbox rows, else housekeeping at the dedupe window', () => {
    expect(nextAlarmAt({ outboxWritten: true, housekeeping: true }, owed, now)).toBe(now + ALARM_DELAY_MS);
    expect(nextAlarmAt({ housekeeping: true }, owed, now)).toBe(now + owed.seenMs);
  });

  it('retries a merge only while one is pending, and takes the earliest audience edge', () => {
    expect(nextAlarmAt({ merge: true }, owed, now)).toBe(Number.POSITIVE_INFINITY);
    expect(nextAlarmAt({ merge: true }, { ...owed, mergePending: true }, now)).toBe(now + ALARM_DELAY_MS);
    expect(nextAlarmAt({ outboxWritten: true }, { ...owed, engageAt: now + 5 }, now)).toBe(now + 5);
  });
});

describe('the alarm slot', () => {
  /** The two storage calls the slot makes, recorded (the runtime's storage, not ours). */
  const storage = (already: number | null) => {
    const sets: number[] = [];
    const s = {
      getAlarm: async () => already,
      setAlarm: async (at: number) => {
        sets.push(at);
      },
    };
    return { sets, storage: s as unknown as DurableObjectStorage };
  };

  it('writes an alarm only when it moves earlier, also on a new instance that restored the set one', async () => {
    const now = 1_000_000;
    const far = now + 14 * 86_400_000;
    const fresh = storage(null);
    const slot = new AlarmSlot(fresh.storage);
    await slot.restore();
    slot.arm(far);
    slot.arm(far + 1000); // later: the earlier one stays, nothing written
    expect(fresh.sets).toEqual([far]);

    // A new instance of the same object: the alarm set before is learnt, not written again.
    const restarted = storage(far);
    const again = new AlarmSlot(restarted.storage);
    await again.restore();
    again.arm(far + 5000);
    expect(restarted.sets).toEqual([]);
    again.arm(now + 30_000); // earlier (a retry): written
    expect(restarted.sets).toEqual([now + 30_000]);
    again.clear(); // fired
    again.arm(far);
    expect(restarted.sets).toEqual([now + 30_000, far]);
  });

  it('ensures an alarm without moving one already set (a merge backstop: retention, days away, will do)', async () => {
    const now = 1_000_000;
    const far = now + 14 * 86_400_000;
    const set = storage(far);
    const slot = new AlarmSlot(set.storage);
    await slot.restore();
    slot.ensure(now + ALARM_DELAY_MS);
    expect(set.sets).toEqual([]);
    const none = storage(null);
    const bare = new AlarmSlot(none.storage);
    await bare.restore();
    bare.ensure(now + ALARM_DELAY_MS);
    bare.ensure(now + 5);
    expect(none.sets).toEqual([now + ALARM_DELAY_MS]);
  });
});
