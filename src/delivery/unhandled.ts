/**
 * Queue messages a delivery consumer could not read or handle. One such message must never fail
 * its batch (the queue would retry every message in it, then dead-letter them all): it is
 * recorded in `delivery_failures` under the destination id `*` (not tied to one destination),
 * with as much of its body as can be serialised, and acknowledged. A body that could be read stays
 * in that record for a person to inspect and re-send; one the runtime could not even deserialise
 * (for instance nested too deep) keeps its queue id, attempts and error.
 */

/** Destination id of records that belong to no single destination. */
export const UNROUTED = '*';

/** Levels kept by `boundedJson`; deeper values are replaced by a marker. */
export const MAX_RECORD_DEPTH = 64;

/** Most characters of a body kept in the record (D1 rows stay far below their 2 MB limit). */
export const MAX_RECORD_CHARS = 200_000;

const TOO_DEEP = '[nested too deep]';

function bounded(value: unknown, depth: number, maxDepth: number): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol'
      ? String(value)
      : value;
  }
  if (depth >= maxDepth) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((v) => bounded(v, depth + 1, maxDepth));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = bounded(v, depth + 1, maxDepth);
  return out;
}

/**
 * JSON of any value, however deep or odd: levels past `maxDepth` become a marker and values JSON
 * cannot hold (BigInt) become strings, so any readable body can be recorded and shown again.
 * Cut to `MAX_RECORD_CHARS`.
 */
export function boundedJson(value: unknown, maxDepth = MAX_RECORD_DEPTH): string {
  let text: string;
  try {
    text = JSON.stringify(bounded(value, 0, maxDepth)) ?? 'null';
  } catch (err) {
    text = JSON.stringify({ unserialisable: err instanceof Error ? err.message : String(err) });
  }
  // Still valid JSON when cut, so the failures API can show it.
  return text.length > MAX_RECORD_CHARS ? JSON.stringify({ truncated: text.slice(0, MAX_RECORD_CHARS) }) : text;
}

/** What is recorded about a message that could not be handled. */
export interface UnhandledMessage {
  /** The event's messageId when it could be read, else `queue:<queue message id>`. */
  key: string;
  sourceId?: string;
  /** `event`, `attempt`, `failed` or `unreadable`. */
  kind: string;
  /** The body as far as it could be serialised (`null` when it could not be read at all). */
  body: string;
  error: string;
  attempts: number;
  at: string;
}

const describe = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** Reads a message body; a body the runtime cannot deserialise is reported, not thrown. */
export function readBody<T>(msg: Message<T>): { ok: true; body: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, body: msg.body };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The record of a message that could not be read (`body` absent) or handled. */
export function unhandled(
  msg: Message<unknown>,
  queue: string,
  err: unknown,
  now: number,
  body?: { value: unknown },
): UnhandledMessage {
  const value = body?.value as
    | { kind?: unknown; sourceId?: unknown; event?: { messageId?: unknown } }
    | null
    | undefined;
  const messageId = typeof value?.event?.messageId === 'string' ? value.event.messageId : undefined;
  const what = body ? 'could not be handled' : 'could not be read';
  return {
    key: messageId ?? `queue:${msg.id}`,
    sourceId: typeof value?.sourceId === 'string' ? value.sourceId : undefined,
    kind: body ? (typeof value?.kind === 'string' ? value.kind : 'unknown') : 'unreadable',
    body: body ? boundedJson(body.value) : 'null',
    error: `The ${queue} message ${msg.id} ${what} (${describe(err)}); it was recorded and acknowledged so the rest of its batch goes on`,
    attempts: msg.attempts,
    at: new Date(now).toISOString(),
  };
}

/** The statement recording one unhandled message (idempotent by its key). */
export function unhandledStatement(d1: D1Database, u: UnhandledMessage): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT INTO delivery_failures (destination_id, message_id, source_id, event_type, event_name, event,
         status, error, response, attempts, first_attempt_at, failed_at, replayed_at)
       VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, NULL, ?, ?, ?, NULL)
       ON CONFLICT (destination_id, message_id) DO UPDATE SET event = excluded.event, error = excluded.error,
         attempts = excluded.attempts, failed_at = excluded.failed_at`,
    )
    .bind(UNROUTED, u.key, u.sourceId ?? null, u.kind, u.body, u.error, u.attempts, u.at, u.at);
}
