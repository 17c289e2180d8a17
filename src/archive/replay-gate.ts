import type { EnrichedEvent } from '../ingest/spec';
import { blindKeysFor, isSuppressed, suppressedKeys } from '../privacy/suppression';

/**
 * The privacy gate of a replay: which archived events may be sent again. A person suppressed since
 * (regulations, src/privacy) is never replayed: the same check as the edge's, over the same cached
 * list (one small D1 read per revalidation, not per event). A person deleted since has no rows left
 * to replay: the regulation's `archive` stage rewrote the files without them.
 */
export async function isReplayAllowed(
  env: Cloudflare.Env,
  _sourceId: string,
  events: readonly EnrichedEvent[],
): Promise<boolean[]> {
  const keys = await suppressedKeys(env.DB);
  if (!keys.size) return events.map(() => true);
  const blind = await blindKeysFor(env, events);
  return events.map((e) => !isSuppressed(e, keys, blind));
}
