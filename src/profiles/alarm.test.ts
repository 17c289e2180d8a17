import { describe, expect, it } from 'vitest';
import { ALARM_DELAY_MS, nextAlarmAt, owesAlarm } from './alarm';

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
