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
 * messageId wins, so the result never depends on arrival order.
 */
export function wins(
  incoming: Pick<StampedValue, 'ts' | 'messageId'>,
  current?: Pick<StampedValue, 'ts' | 'messageId'>,
) {
  if (!current) return true;
  if (incoming.ts !== current.ts) return incoming.ts > current.ts;
  return incoming.messageId > current.messageId;
}

/**
 * Merges stamped traits last-write-wins per key. Returns only the entries that changed, which is
 * what a store must write. Merging is commutative, associative and idempotent.
 */
export function mergeTraits(
  current: Record<string, StampedValue>,
  incoming: Record<string, StampedValue>,
): Record<string, StampedValue> {
  const changed: Record<string, StampedValue> = {};
  for (const [key, v] of Object.entries(incoming)) {
    if (wins(v, current[key])) changed[key] = v;
  }
  return changed;
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
