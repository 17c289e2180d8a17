import type { EnrichedEvent } from '../ingest/spec';

/**
 * The privacy gate of a replay: which archived events may be sent again. Today every event may;
 * the coordinator wires this to suppressions (regulations, src/privacy) so that a subject
 * suppressed or deleted since is never replayed. One call per replay step, so the check can be one
 * D1 read for all of a step's events.
 */
export async function isReplayAllowed(
  _env: Cloudflare.Env,
  _sourceId: string,
  events: readonly EnrichedEvent[],
): Promise<boolean[]> {
  return events.map(() => true);
}
