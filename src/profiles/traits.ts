/** A trait value with what decides last-write-wins: the event's timestamp, then its messageId. */
export interface StampedValue {
  value: unknown;
  /** Event timestamp, ms since the epoch. */
  ts: number;
  messageId: string;
  sourceId?: string;
}

/**
 * True when `incoming` should replace `current`: a later event timestamp wins; on a tie the larger
 * messageId wins, so the result never depends on arrival order. `ProfileStore.applyTraits` asks
 * it per key, which makes merging commutative, associative and idempotent.
 */
export function wins(
  incoming: Pick<StampedValue, 'ts' | 'messageId'>,
  current?: Pick<StampedValue, 'ts' | 'messageId'>,
) {
  if (!current) return true;
  if (incoming.ts !== current.ts) return incoming.ts > current.ts;
  return incoming.messageId > current.messageId;
}

/** Stamps every top-level trait of an event. */
export function stampTraits(
  traits: Record<string, unknown> | undefined,
  stamp: Omit<StampedValue, 'value'>,
): Record<string, StampedValue> {
  const out: Record<string, StampedValue> = {};
  for (const [key, value] of Object.entries(traits ?? {})) {
    if (value !== undefined) out[key] = { ...stamp, value };
  }
  return out;
}
