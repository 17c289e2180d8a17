// What the resolver remembers per isolate between batches: hints only, never the truth (the index
// and the Profile objects are), bounded in size.

/** Merged profile → where it went. Tombstones never change: safe to remember per isolate. */
export const movedTo = new Map<string, string>();

/**
 * Key → profile that held it at its last answer. Only a hint: a profile that holds every key of
 * an event takes it without looking anything up, and answers "moved" if it was merged since.
 */
export const holder = new Map<string, string>();

const CACHE_ENTRIES = 50_000;

/** Sets an entry, dropping the whole cache first once it is full (cheaper than tracking age). */
export function remember(cache: Map<string, string>, key: string, value: string) {
  if (cache.size >= CACHE_ENTRIES) cache.clear();
  cache.set(key, value);
}
