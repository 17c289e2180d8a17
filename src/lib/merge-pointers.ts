/**
 * How many merge pointers (loser → survivor) a reader follows before giving up. Each merge adds
 * one hop and a survivor's pointer is never rewritten, so a real chain is short; one this long is
 * a loop left by a bug, and following it further would only spin.
 */
export const MAX_MERGE_HOPS = 64;

/** One step along the chain: the answer, or the id the profile was merged into. */
export type MergeHop<T> = { done: T } | { next: string };

/**
 * Follows merge pointers from `start`: `step` reads one id and either answers or names the id it
 * moved to. A chain longer than `MAX_MERGE_HOPS` gives `tooLong(start)` (which may throw).
 */
export async function followMerges<T>(
  start: string,
  step: (id: string) => Promise<MergeHop<T>>,
  tooLong: (start: string) => T,
): Promise<T> {
  let id = start;
  for (let hop = 0; hop < MAX_MERGE_HOPS; hop++) {
    const r = await step(id);
    if ('done' in r) return r.done;
    id = r.next;
  }
  return tooLong(start);
}

/** The end of `id`'s chain in a map of pointers; `id` itself when it was never merged. */
export function chainEnd(merges: ReadonlyMap<string, string>, id: string): string {
  let cur = id;
  for (let hop = 0; hop < MAX_MERGE_HOPS; hop++) {
    const next = merges.get(cur);
    if (!next || next === cur) break;
    cur = next;
  }
  return cur;
}
