import type { EnrichedEvent } from '../ingest/spec';

/** One accepted event on its way to the archive, with the profile it landed on when known. */
export interface ArchivedEvent {
  sourceId: string;
  profileId?: string;
  event: EnrichedEvent;
  /** From an ingest message on a retry: an earlier attempt may have archived it already. */
  redelivered?: true;
}

/** What the `tessera-archive` queue carries: the accepted events of an ingest batch, packed. */
export interface ArchiveMessage {
  kind: 'archive';
  events: ArchivedEvent[];
}

/** What the `tessera-replay` queue carries: "do the next step of this replay". */
export interface ReplayStep {
  kind: 'replay';
  replayId: string;
}
