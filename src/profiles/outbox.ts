import { type DeliveryMessage, outboundEventsOf, packOutbound } from '../delivery/messages';
import type { ProfileStore } from './store';

/** Rows per send: each may hold an apply's events (up to 512 KB), so a flush holds a few MB at most. */
const ROWS_PER_SEND = 8;

/**
 * Sends a profile's outbox rows (one per apply, written in the same transaction as its events) to
 * the `delivery` queue, oldest first, packed into as few messages as the queue's size allows,
 * deleting the rows (one statement) once the queue has them. One flush runs at a
 * time; callers arriving meanwhile join it, and it loops until the outbox is empty. A failure
 * leaves the rows for the profile's alarm to retry: delivery is at least once.
 */
export class OutboxSender {
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly store: ProfileStore,
    private readonly send: (messages: DeliveryMessage[]) => Promise<void>,
  ) {}

  flush(): Promise<void> {
    // Cleared in `.finally` (a later microtask), not inside `drain`: an empty outbox makes
    // `drain` finish synchronously, and clearing there would leave a settled promise behind.
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.store.outbox(ROWS_PER_SEND);
      if (!rows.length) return;
      // The rows' events, repacked as full as a queue message allows: one message per flush.
      const events = rows.flatMap((r) => outboundEventsOf(r.body));
      const other = rows.filter((r) => !outboundEventsOf(r.body).length).map((r) => r.body);
      await this.send([...packOutbound(events), ...other]);
      this.store.deleteOutbox(rows[rows.length - 1].seq);
    }
  }
}
