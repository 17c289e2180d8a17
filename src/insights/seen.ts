// Which events the rollups have counted already, so a queue redelivery (a batch whose ack was lost,
// a message retried after its directory write failed, an event re-sent out of its pack) counts
// nothing twice. One D1 row per event, keyed by the event's received day and a hash of its source
// and messageId: written in the same transaction as the rollups, so an event is counted exactly
// when its key is stored; deleted a week later by the batches themselves.
import { hash64, type RollupInput } from './rollup';

const DAY_MS = 86_400_000;
/** Days a key is kept: longer than an ingest message can stay on the queue (4 days) plus retries. */
export const SEEN_DAYS = 7;
/** Expired keys a batch deletes per key it adds, so the table never grows behind the traffic. */
const EXPIRE_RATIO = 2;

export interface SeenKey {
  day: number;
  key: string;
}

/** The dedupe key of an event, or null when it has no messageId (then it is always counted). */
export function seenKey(input: RollupInput): SeenKey | null {
  const id = input.event.messageId;
  if (typeof id !== 'string' || !id) return null;
  const received = Date.parse(input.event.receivedAt ?? input.event.timestamp ?? '');
  if (!Number.isFinite(received)) return null;
  return { day: Math.floor(received / DAY_MS), key: hash64(`${input.sourceId}\0${id}`) };
}

const id = (k: SeenKey) => `${k.day}:${k.key}`;

/**
 * The inputs not counted before (first of each key within the batch too), and their keys. Reads
 * the keys in one statement per chunk: a primary-key lookup per event, about one row read each.
 */
export async function unseen(
  d1: D1Database,
  inputs: readonly RollupInput[],
  chunk: (keys: SeenKey[]) => string[],
): Promise<{ fresh: RollupInput[]; keys: SeenKey[] }> {
  const keyed = inputs.map((input) => ({ input, k: seenKey(input) }));
  const wanted = keyed.flatMap(({ k }) => (k ? [k] : []));
  const known = new Set<string>();
  for (const p of chunk(wanted)) {
    const { results } = await d1
      .prepare(
        `SELECT s.day, s.key FROM json_each(?1) j
         JOIN insights_seen s ON s.day = j.value ->> 0 AND s.key = j.value ->> 1`,
      )
      .bind(p)
      .all<SeenKey>();
    for (const r of results) known.add(id(r));
  }
  const fresh: RollupInput[] = [];
  const keys: SeenKey[] = [];
  for (const { input, k } of keyed) {
    if (!k) {
      fresh.push(input);
      continue;
    }
    if (known.has(id(k))) continue;
    known.add(id(k));
    fresh.push(input);
    keys.push(k);
  }
  return { fresh, keys };
}

/**
 * Statements that store the keys (a plain INSERT: a key stored meanwhile by a concurrent delivery
 * fails the whole transaction, rollups included, instead of counting twice) and delete up to
 * `EXPIRE_RATIO` expired keys per key added.
 */
export function seenStatements(d1: D1Database, keys: SeenKey[], params: string[], now = Date.now()) {
  const cutoff = Math.floor(now / DAY_MS) - SEEN_DAYS;
  // The expiry runs first, so it never takes a key of this very batch (whatever its receivedAt).
  return [
    d1
      .prepare(
        `DELETE FROM insights_seen WHERE (day, key) IN (
           SELECT day, key FROM insights_seen WHERE day < ?1 LIMIT ?2)`,
      )
      .bind(cutoff, Math.max(1, keys.length * EXPIRE_RATIO)),
    ...params.map((p) =>
      d1.prepare('INSERT INTO insights_seen (day, key) SELECT value ->> 0, value ->> 1 FROM json_each(?1)').bind(p),
    ),
  ];
}
