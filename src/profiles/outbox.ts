import type { DeliveryMessage } from '../delivery/messages';
import type { ProfileStore } from './store';

const ROWS_PER_SEND = 100;

/**
 * Sends a profile's outbox rows (written in the same transaction as their event) to the
 * `delivery` queue, oldest first, deleting each row once the queue has it. One flush runs at a
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
      await this.send(rows.map((r) => r.body));
      this.store.deleteOutbox(rows[rows.length - 1].seq);
    }
  }
}
