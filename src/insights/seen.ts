// Which events the rollups have counted already, so a queue redelivery (a batch whose ack was lost,
// a message retried whole) counts nothing twice. One D1 row per ingest queue *message*, not per
// event: Queues keeps a message's id across redeliveries, and the row holds the indexes of the
// message's events counted so far (a packed message carries many). Written in the same transaction
// as the rollups, so an event is counted exactly when its index is stored; deleted a week later
// by the batches themselves. An event re-sent out of its pack (`Packs.finish`) travels in a new
// message with a new id: it was retried, so the consumer did not count it the first time.
import type { QueueOrigin } from '../lib/queue-bodies';
import type { RollupInput } from './rollup';

const DAY_MS = 86_400_000;
/** Days a row is kept: longer than an ingest message can stay on the queue (4 days) plus retries. */
export const SEEN_DAYS = 7;
/** Expired rows a batch deletes per row it adds, so the table never grows behind the traffic. */
const EXPIRE_RATIO = 2;

/** An event to count, with the queue message it came in (none: always counted). */
export interface Countable {
  origin?: QueueOrigin;
  input: RollupInput;
  /** Its profile had logged it already (a client's re-send in a new request): handled, not counted. */
  logged?: boolean;
}

/** A message's row as it will be: `before` is the stored `counted` (null: no row yet). */
export interface SeenRow {
  day: number;
  id: string;
  counted: string;
  before: string | null;
}

/**
 * The row key of a message: the day the queue accepted it (constant across its redeliveries, so
 * lookup and expiry are primary-key ranges) and its id. Null without a usable timestamp.
 */
export function messageKey(origin: QueueOrigin | undefined): { day: number; id: string } | null {
  if (!origin?.id || !Number.isFinite(origin.sentAt)) return null;
  return { day: Math.floor(origin.sentAt / DAY_MS), id: origin.id };
}

const keyOf = (k: { day: number; id: string }) => `${k.day}:${k.id}`;

/**
 * Marks, within the batch, every entry after the first of its source and messageId (a client
 * retry, the same event twice), and every entry its profile had logged already, as a duplicate:
 * not counted, but its index recorded as handled.
 */
function markDuplicates(entries: readonly Countable[]): (Countable & { dup: boolean })[] {
  const seen = new Set<string>();
  return entries.map((e) => {
    const mid = e.input.event.messageId;
    if (typeof mid !== 'string' || !mid) return { ...e, dup: e.logged === true };
    const key = `${e.input.sourceId}\0${mid}`;
    const dup = seen.has(key) || e.logged === true;
    seen.add(key);
    return { ...e, dup };
  });
}

/**
 * The inputs not counted before, and the message rows that record them. Reads the batch's message
 * rows in one statement per chunk (a primary-key lookup per message).
 */
export async function unseen(
  d1: D1Database,
  entries: readonly Countable[],
  chunk: (keys: { day: number; id: string }[]) => string[],
): Promise<{ fresh: RollupInput[]; rows: SeenRow[] }> {
  const keyed = markDuplicates(entries).map((e) => ({ ...e, k: messageKey(e.origin) }));
  const wanted = new Map<string, { day: number; id: string }>();
  for (const { k } of keyed) if (k) wanted.set(keyOf(k), k);
  const stored = new Map<string, string>();
  for (const p of chunk([...wanted.values()])) {
    const { results } = await d1
      .prepare(
        `SELECT s.day, s.message_id AS id, s.counted FROM json_each(?1) j
         JOIN insights_seen s ON s.day = j.value ->> 0 AND s.message_id = j.value ->> 1`,
      )
      .bind(p)
      .all<{ day: number; id: string; counted: string }>();
    for (const r of results) stored.set(keyOf(r), r.counted);
  }
  const counted = new Map<string, Set<number>>();
  const fresh: RollupInput[] = [];
  for (const { origin, input, k, dup } of keyed) {
    if (!k || !origin) {
      if (!dup) fresh.push(input);
      continue;
    }
    const key = keyOf(k);
    let set = counted.get(key);
    if (!set) {
      set = new Set(parseIndexes(stored.get(key)));
      counted.set(key, set);
    }
    if (set.has(origin.index)) continue;
    set.add(origin.index);
    if (!dup) fresh.push(input);
  }
  const rows: SeenRow[] = [];
  for (const [key, set] of counted) {
    const k = wanted.get(key) as { day: number; id: string };
    const before = stored.get(key) ?? null;
    const now = JSON.stringify([...set].sort((a, b) => a - b));
    if (now !== before) rows.push({ ...k, counted: now, before });
  }
  return { fresh, rows };
}

function parseIndexes(json: string | undefined): number[] {
  if (!json) return [];
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((i): i is number => typeof i === 'number') : [];
  } catch {
    return [];
  }
}

/**
 * Statements that store the rows and delete up to `EXPIRE_RATIO` expired rows per row added. A new
 * row is a plain INSERT and a known one is updated only if unchanged since it was read (else the
 * CASE gives NULL into a NOT NULL column): a concurrent delivery that stored first fails the whole
 * transaction, rollups included, instead of counting twice.
 */
export function seenStatements(
  d1: D1Database,
  rows: SeenRow[],
  chunk: (rows: SeenRow[]) => string[],
  now = Date.now(),
) {
  const cutoff = Math.floor(now / DAY_MS) - SEEN_DAYS;
  const added = rows.filter((r) => r.before === null);
  // The expiry runs first, so it never takes a row of this very batch (whatever its day).
  return [
    d1
      .prepare(
        `DELETE FROM insights_seen WHERE (day, message_id) IN (
           SELECT day, message_id FROM insights_seen WHERE day < ?1 LIMIT ?2)`,
      )
      .bind(cutoff, Math.max(1, added.length * EXPIRE_RATIO)),
    ...chunk(added).map((p) =>
      d1
        .prepare(
          'INSERT INTO insights_seen (day, message_id, counted) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1)',
        )
        .bind(p),
    ),
    ...rows
      .filter((r) => r.before !== null)
      .map((r) =>
        d1
          .prepare(
            'UPDATE insights_seen SET counted = CASE WHEN counted = ?3 THEN ?4 END WHERE day = ?1 AND message_id = ?2',
          )
          .bind(r.day, r.id, r.before, r.counted),
      ),
  ];
}

/**
 * Records events of a packed message as handled without counting them: `Packs.finish` re-sent
 * them as a new message (which counts them). Only on that rare path, one row written; merges into
 * the stored indexes, so it commutes with a concurrent delivery's own row.
 */
export async function markHandedOver(d1: D1Database, origin: QueueOrigin, indexes: number[]): Promise<void> {
  const k = messageKey(origin);
  if (!k || !indexes.length) return;
  await d1
    .prepare(
      `INSERT INTO insights_seen (day, message_id, counted) VALUES (?1, ?2, ?3)
       ON CONFLICT DO UPDATE SET counted = (SELECT json_group_array(v) FROM (
         SELECT value AS v FROM json_each(insights_seen.counted)
         UNION SELECT value FROM json_each(excluded.counted) ORDER BY 1))`,
    )
    .bind(k.day, k.id, JSON.stringify([...indexes].sort((a, b) => a - b)))
    .run();
}
