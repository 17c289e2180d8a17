/**
 * Runs `fn` over `items` with at most `limit` calls in flight, taking items in order, so a batch
 * of work holds a bounded number of connections or Durable Object calls. Rejects with the first
 * failure; the other workers go on until the items run out (as with `Promise.all`).
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
