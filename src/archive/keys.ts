const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The Hive partition of an event: its source and the UTC hour it was received. */
export interface Partition {
  sourceId: string;
  date: string;
  hour: string;
}

/** Partitioned by `received_at` (set by Tessera, never skewed by a client clock, stable on redelivery). */
export function partitionOf(sourceId: string, receivedAt: Date): Partition {
  const iso = receivedAt.toISOString();
  return { sourceId, date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

export const partitionPath = (p: Partition) => `events/source_id=${p.sourceId}/date=${p.date}/hour=${p.hour}/`;

/**
 * A ULID whose 80 "random" bits are a hash of `seed`: the same batch of queue messages always
 * names the same object, so a redelivered batch overwrites its file instead of adding a second one.
 */
export async function deterministicUlid(timeMs: number, seed: string): Promise<string> {
  let time = '';
  let t = Math.max(0, Math.floor(timeMs));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(seed)));
  let rand = '';
  for (const b of digest.subarray(0, 16)) rand += CROCKFORD[b % 32];
  return time + rand;
}

/** The object key of one file: `events/source_id=<id>/date=YYYY-MM-DD/hour=HH/<ulid>.parquet`. */
export async function objectKey(p: Partition, firstReceivedMs: number, messageIds: readonly string[]) {
  const seed = `${partitionPath(p)}\n${[...messageIds].sort().join('\n')}`;
  return `${partitionPath(p)}${await deterministicUlid(firstReceivedMs, seed)}.parquet`;
}

/** Is `key` an archive object key (what `GET /api/archive/objects/<key>` accepts)? */
export const isObjectKey = (key: string) =>
  /^events\/source_id=[^/]+\/date=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/[0-9A-Z]{26}\.parquet$/.test(key);
