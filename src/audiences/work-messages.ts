import type { BackfillMessage } from './backfill';
import type { MembershipMessage } from './membership';

/** A back-fill message, on its first page (no cursor) or a later one. */
export interface BackfillPage extends BackfillMessage {
  /** Last profile id of the previous page. */
  cursor?: string;
}

/**
 * Every `work` queue message this area handles. A leaf: the consumer (`backfill-consumer.ts`) and
 * its dead letters (`work-failures.ts`) both need it, and used to import it from each other.
 */
export type EngageWorkMessage = BackfillPage | MembershipMessage;
