import type { DeliveryFailure } from './messages';
import { chunk, receiptMinute } from './store';
import { boundedJson, type UnhandledMessage, unhandledStatement } from './unhandled';

/** Latency histogram: bin b holds latencies around 1.2^b ms (±10%), enough for a p95. */
export const latencyBin = (ms: number) =>
  Math.max(0, Math.min(120, Math.round(Math.log(Math.max(1, ms)) / Math.log(1.2))));
export const binValue = (bin: number) => Math.round(1.2 ** bin);

interface Counters {
  delivered: number;
  retried: number;
  failed: number;
  filtered: number;
  retryStarted: number;
  retryResolved: number;
}

const zero = (): Counters => ({ delivered: 0, retried: 0, failed: 0, filtered: 0, retryStarted: 0, retryResolved: 0 });

/**
 * What one consumer batch did, written to D1 in one `batch()` call: receipts (so nothing is sent
 * twice), counters per destination and minute, latency bins, failures and replay clean-up.
 */
export class DeliveryLog {
  private readonly minute: number;
  private readonly counters = new Map<string, Counters>();
  private readonly bins = new Map<string, number>();
  /** Delivered messageIds per destination and received minute: one receipt row each per batch. */
  private readonly receipts = new Map<string, string[]>();
  private readonly failures: DeliveryFailure[] = [];
  private readonly replayed: [string, string][] = [];
  private readonly unhandledMessages: UnhandledMessage[] = [];

  constructor(private readonly now: number) {
    this.minute = Math.floor(now / 60_000);
  }

  private of(destinationId: string): Counters {
    const c = this.counters.get(destinationId) ?? zero();
    this.counters.set(destinationId, c);
    return c;
  }

  delivered(
    destinationId: string,
    event: { messageId: string; receivedAt: string },
    latencyMs: number,
    attempts: number,
    replay = false,
  ): void {
    const { messageId } = event;
    const c = this.of(destinationId);
    c.delivered++;
    if (attempts > 1) c.retryResolved++;
    const bucket = `${destinationId}\u0000${receiptMinute(event.receivedAt)}`;
    this.receipts.set(bucket, [...(this.receipts.get(bucket) ?? []), messageId]);
    const key = `${destinationId}\u0000${latencyBin(latencyMs)}`;
    this.bins.set(key, (this.bins.get(key) ?? 0) + 1);
    if (replay) this.replayed.push([destinationId, messageId]);
  }

  retried(destinationId: string, attempts: number): void {
    const c = this.of(destinationId);
    c.retried++;
    if (attempts === 1) c.retryStarted++;
  }

  filtered(destinationId: string): void {
    this.of(destinationId).filtered++;
  }

  /** A failure reaches the record (the DLQ consumer logs these). */
  failed(f: DeliveryFailure): void {
    const c = this.of(f.destinationId);
    c.failed++;
    if (f.attempts > 1) c.retryResolved++;
    this.failures.push(f);
  }

  /** A queue message that could not be read or handled: recorded, then acknowledged. */
  unhandled(u: UnhandledMessage): void {
    this.unhandledMessages.push(u);
  }

  /** The statements of this batch, to run with `d1.batch()`. */
  statements(d1: D1Database): D1PreparedStatement[] {
    const out: D1PreparedStatement[] = [];
    // One row per destination and received minute for the whole batch (not one per event): a
    // redelivered event finds its receipt by destination and minute (store.ts deliveredKeys).
    const batchId = crypto.randomUUID();
    for (const [bucket, ids] of this.receipts) {
      const [destinationId, minute] = bucket.split('\u0000');
      out.push(
        d1
          .prepare(
            `INSERT INTO delivery_receipt_sets (destination_id, minute, batch, message_ids, delivered_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          )
          .bind(destinationId, Number(minute), batchId, JSON.stringify(ids), this.now),
      );
    }
    for (const [id, c] of this.counters) {
      out.push(
        d1
          .prepare(
            `INSERT INTO delivery_stats (destination_id, minute, delivered, retried, failed, filtered, retry_started, retry_resolved)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (destination_id, minute) DO UPDATE SET
               delivered = delivered + excluded.delivered, retried = retried + excluded.retried,
               failed = failed + excluded.failed, filtered = filtered + excluded.filtered,
               retry_started = retry_started + excluded.retry_started,
               retry_resolved = retry_resolved + excluded.retry_resolved`,
          )
          .bind(id, this.minute, c.delivered, c.retried, c.failed, c.filtered, c.retryStarted, c.retryResolved),
      );
    }
    for (const part of chunk([...this.bins], 25)) {
      const sql = `INSERT INTO delivery_latency (destination_id, minute, bin, count) VALUES ${part.map(() => '(?, ?, ?, ?)').join(',')}
        ON CONFLICT (destination_id, minute, bin) DO UPDATE SET count = count + excluded.count`;
      out.push(
        d1.prepare(sql).bind(
          ...part.flatMap(([key, n]) => {
            const [id, bin] = key.split('\u0000');
            return [id, this.minute, Number(bin), n];
          }),
        ),
      );
    }
    for (const part of chunk(this.failures, 7)) {
      const sql = `INSERT INTO delivery_failures (destination_id, message_id, source_id, event_type, event_name, event,
          status, error, response, attempts, first_attempt_at, failed_at, replayed_at)
        VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)').join(',')}
        ON CONFLICT (destination_id, message_id) DO UPDATE SET status = excluded.status, error = excluded.error,
          response = excluded.response, attempts = excluded.attempts, event = excluded.event,
          first_attempt_at = excluded.first_attempt_at, failed_at = excluded.failed_at, replayed_at = NULL`;
      out.push(d1.prepare(sql).bind(...part.flatMap(failureParams)));
    }
    for (const u of this.unhandledMessages) out.push(unhandledStatement(d1, u));
    for (const [id, messageId] of this.replayed) {
      out.push(
        d1.prepare('DELETE FROM delivery_failures WHERE destination_id = ? AND message_id = ?').bind(id, messageId),
      );
    }
    // Receipts only need to outlive redeliveries (hours); prune now and then, not every batch.
    if (Math.random() < 0.01) {
      out.push(d1.prepare('DELETE FROM delivery_receipts WHERE delivered_at < ?').bind(this.now - 3 * 86_400_000));
      out.push(d1.prepare('DELETE FROM delivery_receipt_sets WHERE minute < ?').bind(this.minute - 3 * 1440));
      out.push(d1.prepare('DELETE FROM delivery_stats WHERE minute < ?').bind(this.minute - 90 * 1440));
      out.push(d1.prepare('DELETE FROM delivery_latency WHERE minute < ?').bind(this.minute - 90 * 1440));
    }
    return out;
  }

  /** Writes the batch's log in one D1 `batch()`. */
  async flush(d1: D1Database): Promise<void> {
    const statements = this.statements(d1);
    if (statements.length) await d1.batch(statements);
  }
}

function failureParams(f: DeliveryFailure): unknown[] {
  const e = f.event;
  const name = e.type === 'track' ? e.event : ((e as { name?: string }).name ?? null);
  return [
    f.destinationId,
    e.messageId,
    f.sourceId ?? null,
    e.type,
    name,
    // Bounded: a pathological event is still recorded (marked where cut).
    boundedJson(e),
    f.status ?? null,
    f.error,
    f.response ?? null,
    f.attempts,
    f.firstAttemptAt,
    f.failedAt,
  ];
}
