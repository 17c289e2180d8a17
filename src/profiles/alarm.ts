/** Retry delay of the outbox and of an interrupted merge. */
export const ALARM_DELAY_MS = 30_000;

/** What a committed transaction leaves to do; the Profile's `afterCommit` does it. */
export interface Committed {
  /** Outbox rows to send now. */
  flushOutbox?: boolean;
  /** The commit wrote outbox rows that the 30 s retry alarm must guard should this object die first. */
  outboxWritten?: boolean;
  /** Audience state changed: membership rows to send to D1. */
  engage?: boolean;
  /** Events were applied: retention housekeeping is owed, first due when their dedupe rows expire. */
  housekeeping?: boolean;
  /** A merge was left pending: retry it should this object die midway. */
  merge?: boolean;
}

/** Whether a commit leaves anything owed that the alarm must guard (an apply of duplicates does not). */
export const owesAlarm = (done: Committed): boolean =>
  Boolean(done.outboxWritten || done.engage || done.housekeeping || done.merge);

/**
 * When the alarm must fire, from what is owed: the earliest of the outbox retry (only after writing
 * outbox rows), the merge retry (while one is pending), the audiences' window edge or retry, and
 * retention housekeeping (after applying events). Infinity when nothing is owed.
 */
export function nextAlarmAt(
  done: Committed,
  owed: { engageAt: number | null; mergePending: boolean; seenMs: number },
  now = Date.now(),
): number {
  const due = [owed.engageAt ?? Number.POSITIVE_INFINITY];
  if (done.outboxWritten) due.push(now + ALARM_DELAY_MS);
  if (done.merge && owed.mergePending) due.push(now + ALARM_DELAY_MS);
  if (done.housekeeping) due.push(now + owed.seenMs);
  return Math.min(...due);
}

/**
 * The object's one alarm, remembered in memory so that a later, farther request never pushes an
 * earlier one back (each `setAlarm` is a billed row: one is written only when it moves earlier).
 */
export class AlarmSlot {
  private at: number | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /**
   * Learns the alarm already set, once per object start (a read, not a billed write): without it
   * the first apply of every new instance wrote the same far retention alarm again, a row per
   * event for a sparse user whose object is evicted between events.
   */
  async restore(): Promise<void> {
    const at = await this.storage.getAlarm();
    this.at = at ?? undefined;
  }

  /** Sets the alarm no later than `when` (an earlier one already set stays). */
  arm(when: number): void {
    if (when === Number.POSITIVE_INFINITY || (this.at !== undefined && this.at <= when)) return;
    this.at = when;
    this.storage.setAlarm(when).catch((err) => {
      this.at = undefined;
      console.warn('could not set alarm', err);
    });
  }

  /**
   * Sets the alarm at `when` only if none is set: for work that must be retried eventually, where
   * an alarm already due (even days away) is backstop enough and moving it would cost a row.
   */
  ensure(when: number): void {
    if (this.at === undefined) this.arm(when);
  }

  /** The alarm fired or was deleted: none is set any more. */
  clear(): void {
    this.at = undefined;
  }
}
