/**
 * Reading queue messages one by one. In workerd `message.body` is deserialised lazily, on first
 * read, and a body that cannot be deserialised (a value nested thousands deep overflows the
 * stack) throws there. Whoever reads every body in one pass fails the whole batch for one bad
 * message, so consumers read each body once, inside its own `try`, and handle only what they got.
 */

/**
 * Where a message-like part came from: its queue message's id (Queues keeps it across
 * redeliveries), its index in a packed body (0 for a lone event), and when the queue accepted that
 * message (ms; NaN when unknown). Set by `Packs.expand` on every part it hands on.
 */
export interface QueueOrigin {
  readonly id: string;
  readonly index: number;
  readonly sentAt: number;
}

/** The parts of a queue message a consumer needs: the lazily read body is what may throw. */
export interface QueueMessageLike<T = unknown> {
  readonly id: string;
  readonly attempts: number;
  readonly body: T;
  /** The queue message and index this part came from (set for parts of `Packs.expand`). */
  readonly origin?: QueueOrigin;
  ack(): void;
  retry(options?: QueueRetryOptions): void;
}

/** A message whose body was read and has the expected shape. */
export interface Readable<M, T> {
  msg: M;
  body: T;
}

/** A message that cannot be handled: its body threw when read, or has the wrong shape. */
export interface Unreadable<M> {
  msg: M;
  /** Why: the read error, or the shape check's verdict. */
  error: string;
  /** The body as JSON when it could be read and serialised, else null. */
  raw: string | null;
}

/**
 * Reads every body exactly once. `check` returns null for a well-formed body, else the reason
 * it is not one; it runs inside the same `try`, so a check that throws marks only its message.
 */
export function readBodies<M extends QueueMessageLike, T>(
  messages: readonly M[],
  check: (body: unknown) => string | null,
): { readable: Readable<M, T>[]; unreadable: Unreadable<M>[] } {
  const readable: Readable<M, T>[] = [];
  const unreadable: Unreadable<M>[] = [];
  for (const msg of messages) {
    let body: unknown;
    try {
      body = msg.body;
    } catch (err) {
      unreadable.push({ msg, error: `body could not be read: ${errorText(err)}`, raw: null });
      continue;
    }
    try {
      const problem = check(body);
      if (problem === null) readable.push({ msg, body: body as T });
      else unreadable.push({ msg, error: problem, raw: safeStringify(body) });
    } catch (err) {
      unreadable.push({ msg, error: `body could not be checked: ${errorText(err)}`, raw: safeStringify(body) });
    }
  }
  return { readable, unreadable };
}

/** JSON of a value, or null when it has none (too deep, cyclic, a BigInt…); never throws. */
export function safeStringify(value: unknown): string | null {
  try {
    const json = JSON.stringify(value);
    return typeof json === 'string' ? json : null;
  } catch {
    return null;
  }
}

/** One line describing an error; never throws (an error's own getters may). */
export function errorText(err: unknown): string {
  try {
    if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 2_000);
    return String(err).slice(0, 2_000);
  } catch {
    return 'unprintable error';
  }
}

/**
 * Errors that will recur on every attempt, whatever the state of the system: the message itself
 * is the cause (a value too deep to copy or serialise, data no code path expects). Retrying such
 * a message only delays it on its way to a dead letter, so consumers record it at once. Anything
 * else (a busy object, a lost connection, a D1 hiccup) is worth a retry.
 */
export function isPoison(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof RangeError || err instanceof SyntaxError) return true;
  if (err.name === 'DataCloneError') return true;
  return /maximum call stack|could not be cloned|circular structure|do not know how to serialize/i.test(err.message);
}

/** Retry delay growing with the attempt count, capped (seconds; Queues allow up to 12 hours). */
export function backoffSeconds(attempts: number, base: number, cap: number): number {
  return Math.min(cap, base * 2 ** Math.max(0, Math.min(attempts - 1, 30)));
}

/** Retries of a dead letter (wrangler.toml: tessera-ingest-dlq, tessera-work-dlq `max_retries`). */
export const DLQ_MAX_RETRIES = 100;

/**
 * A dead letter that could not be recorded is retried with a growing delay (30 s up to an hour:
 * about four days of retries in all); on its last delivery, a readable one is put back at the end
 * of its own queue, so even a long D1 outage never makes the queue drop it.
 */
export async function keepDeadLetter(msg: QueueMessageLike, requeue: (() => Promise<unknown>) | undefined) {
  if (msg.attempts <= DLQ_MAX_RETRIES || !requeue) {
    msg.retry({ delaySeconds: backoffSeconds(msg.attempts, 30, 3600) });
    return;
  }
  try {
    await requeue();
    msg.ack();
  } catch (err) {
    console.error('dead letter could not be requeued; retrying', msg.id, err);
    msg.retry({ delaySeconds: 60 });
  }
}

/**
 * Writes dead-letter rows so that as many as possible are stored: one `batch()` for all (one
 * transaction, so one bad row fails it), then each row alone, then a `minimal` form of a row that
 * still fails. Returns which rows are now stored: only their messages may be acked.
 */
export async function writeFailureRows<R extends { messageId: string }>(
  d1: D1Database,
  rows: readonly R[],
  bind: (row: R) => D1PreparedStatement,
  minimal: (row: R, why: string) => R,
  what: string,
): Promise<boolean[]> {
  if (!rows.length) return [];
  try {
    await d1.batch(rows.map(bind));
    return rows.map(() => true);
  } catch (err) {
    console.error(`recording ${what}s in one batch failed; writing them one by one`, errorText(err));
  }
  const written: boolean[] = [];
  for (const row of rows) {
    try {
      await bind(row).run();
      written.push(true);
      continue;
    } catch (err) {
      console.error(`recording a ${what} failed; writing a minimal row`, row.messageId, errorText(err));
    }
    try {
      await bind(minimal(row, 'full row refused')).run();
      written.push(true);
    } catch (err) {
      console.error(`even a minimal ${what} row could not be written`, row.messageId, errorText(err));
      written.push(false);
    }
  }
  return written;
}
