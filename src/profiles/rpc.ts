import type { RunningState } from '../audiences/specs';
import type { OutboundEvent } from '../delivery/messages';
import type { Collection } from '../identity/identifiers';
import type { LimitSpec } from '../identity/settings';
import type { IngestMessage } from '../ingest/spec';

/**
 * The contract of the `Profile` Durable Object: its RPC methods and every row and wire type they
 * carry, in one leaf module (types only) that the object, its stores, the resolver and the APIs
 * import, so none of them has to import another to name what crosses the boundary.
 */

/** Sync methods of the object are still awaited by callers: an RPC stub always answers a promise. */
type Awaitable<T> = T | Promise<T>;

export interface ProfileRpc {
  /** How resolution sees this profile: its identifiers, or where it went. */
  describe(profileId: string): Awaitable<Describe>;
  /** Applies events that resolution routed here. */
  apply(input: ApplyInput): Promise<ApplyResult>;
  /** Merges this profile into a smaller one; it keeps only a tombstone. */
  mergeInto(input: MergeInput): Promise<MergeResult>;
  /** Takes in a merged profile, then pulls its history page by page. */
  absorb(input: AbsorbInput): Promise<AbsorbResult>;
  /** A page of this (frozen) profile's history, for the survivor of its merge. */
  historyPage(cursor?: HistoryCursor): Awaitable<HistoryPage>;
  /** Waits for identifier work in progress, finishes an interrupted merge, then describes. */
  settle(profileId: string): Promise<Describe>;
  /** Reads parts of the profile for the APIs. */
  read(q: ReadQuery): Awaitable<ReadResult>;
  /** Re-evaluates audiences for a back-fill (at least at `minRevision`). */
  refreshAudiences(minRevision: number): Promise<RefreshStatus>;
  /** Stored audience and computed-trait results (all, or only `keys`). */
  audienceValues(keys?: string[]): Awaitable<AudienceValues>;
  /** Erases everything this object stores (deletion regulation); what it held. */
  erase(): Promise<{ identifiers: string[]; mergedFrom: string[] }>;
}

// ---- Answers of the identifier-changing calls ----

/** A frozen or merged profile answers one of these instead of acting; the caller retries. */
export type Redirect = { status: 'moved'; to: string } | { status: 'busy'; absorbed?: boolean };

/** What the directory stores about a profile after a change. */
export interface ProfileSnapshot {
  id: string;
  collection: Collection;
  version: number;
  mergedInto?: string;
  identifiers: string[];
  traits: Record<string, unknown>;
  eventCount: number;
  createdAt: string;
  updatedAt: string;
  lastSeenAt?: string;
}

export type Describe = Redirect | { status: 'live'; id: string; identifiers: string[]; merges: number };

export interface ApplyInput {
  profileId: string;
  collection: Collection;
  /** Identifier keys the events bring; new ones are claimed in the index before they are added. */
  keys: string[];
  /** Keys of `keys` the resolver's lookup-and-claim already gave this profile in the index: not claimed again. */
  reserved?: string[];
  /** Sealed clear values of blind-indexed keys (`email:bi1.…`), kept as the identifier's value. */
  identifierValues?: Record<string, string>;
  messages: IngestMessage[];
  links?: LinkRow[];
  limits: LimitSpec;
  /** Deliver each new event (users); accounts only keep the log. */
  emit: boolean;
  /**
   * The caller sends the deliveries itself (the ingest consumer, before it acks its queue
   * message): they come back in `outbound` instead of going through the outbox, so the apply
   * writes no outbox row, arms no retry alarm and sends no delivery message of its own.
   */
  handOver?: boolean;
  /**
   * MessageIds the queue delivered before (a redelivery): a duplicate among them is handed over
   * again, since the earlier attempt may have applied it and died before sending it. Delivery
   * receipts keep a destination from getting it twice; a client's re-send is not listed here and
   * stays a dropped duplicate.
   */
  again?: string[];
}

export type ApplyResult =
  | Redirect
  | {
      status: 'ok';
      applied: number;
      duplicates: number;
      snapshot: ProfileSnapshot;
      /** With `handOver`: the delivery of each input message (by position), null when it has none. */
      outbound?: (OutboundEvent | null)[];
    }
  | { status: 'conflict'; breaks: string[] }
  /** Some new keys belong to other profiles: plan again with these owners. */
  | { status: 'lost'; owners: Record<string, string> };

export interface MergeInput {
  profileId: string;
  survivorId: string;
  reason: string;
  limits: LimitSpec;
}

export type MergeResult =
  | Redirect
  | { status: 'merged'; into: string; snapshot: ProfileSnapshot }
  | { status: 'conflict'; breaks: string[] };

/** Kept in the loser's meta while a merge is under way, so an alarm can finish it after a crash. */
export interface PendingMerge {
  to: string;
  reason: string;
  limits: LimitSpec;
}

export interface AbsorbInput {
  survivorId: string;
  loserId: string;
  head: ProfileExport;
  /** First page of the loser's history; `next` says where to pull the rest from. */
  history: HistoryPage;
  reason: string;
  limits: LimitSpec;
}

export type AbsorbResult = Redirect | { status: 'ok' } | { status: 'conflict'; breaks: string[] };

// ---- Rows of the Profile object's SQLite tables ----

/** The profile row: who it is, whether it was merged away, and Segment's metadata fields. */
export interface Meta {
  id: string | null;
  collection: Collection | null;
  /** Tombstone: the profile this one was merged into. */
  merged_into: string | null;
  /** JSON `PendingMerge` while this profile is being merged into another (it is frozen). */
  pending: string | null;
  version: number;
  event_count: number;
  created_at: string | null;
  updated_at: string | null;
  last_seen_at: string | null;
  first_message_id: string | null;
  first_source_id: string | null;
  last_message_id: string | null;
  last_source_id: string | null;
}

export interface IdentifierRow {
  key: string;
  kind: string;
  value: string;
  source_id: string | null;
  first_message_id: string | null;
  created_at: string;
}
export interface TraitRow {
  key: string;
  value: string;
  ts: number;
  message_id: string;
  source_id: string | null;
}
export interface LinkRow {
  collection: Collection;
  key: string;
  source_id: string | null;
  created_at: string;
}
export interface MergedRow {
  profile_id: string;
  reason: string;
  merged_at: string;
  /** 0 while the merged profile's event log is still being copied in. */
  complete: number;
}

/** One entry of a profile's event log, as stored. */
export interface EventRow {
  messageId: string;
  /** Event timestamp, ms since the epoch. */
  ts: number;
  type: string;
  /** `event` of a track call, `name` of a page or screen, the type otherwise. */
  name: string;
  sourceId: string;
  /** The event as JSON. */
  body: string;
}

// ---- What a merge hands over ----

/** What a merged profile hands to its survivor; its event log is pulled after, page by page. */
export interface ProfileExport {
  meta: Meta;
  identifiers: IdentifierRow[];
  traits: TraitRow[];
  links: LinkRow[];
  mergedFrom: MergedRow[];
  /** Running audience aggregates (absent from objects that predate them). */
  engage?: AggregatesExport;
}

/** One page of a merged profile's event log or dedupe set. */
export interface HistoryChunk {
  events: EventRow[];
  seen: { message_id: string; at: number }[];
  /** Audience match rows (after the log and dedupe set): see profiles/engage/aggregate-merge.ts. */
  matches?: MatchExport[];
}

/** Where a history transfer stands: the last row sent of the current phase. */
export interface HistoryCursor {
  phase: 'events' | 'seen' | 'matches';
  /** Event timestamp (events), or the loser's spec id (matches). */
  ts: number;
  id: string;
}

export interface HistoryPage {
  chunk: HistoryChunk;
  next?: HistoryCursor;
}

/** The aggregates a merged profile hands over with its head. */
export interface AggregatesExport {
  specs: SpecExport[];
}

/** A spec's aggregate as a merged profile hands it over. */
export interface SpecExport {
  key: string;
  keepMs: number;
  state: RunningState;
  values: { vkey: string; n: number; firstTs: number; firstId: string }[];
}

/** A match row as a merged profile hands it over. */
export interface MatchExport {
  key: string;
  messageId: string;
  ts: number;
  value: string | null;
  num: number | null;
  at: number;
  folded: number;
}

// ---- Reads ----

/** Filters and paging of the Profile API's `/events`. */
export interface EventQuery {
  limit: number;
  asc: boolean;
  /** Last row of the previous page. */
  after?: { ts: number; messageId: string };
  start?: number;
  end?: number;
  include?: string[];
  exclude?: string[];
}

/** What a read asks for; only the requested parts are returned. */
export interface ReadQuery {
  identifiers?: boolean;
  traits?: boolean;
  links?: boolean;
  merges?: boolean;
  events?: EventQuery;
  messageIds?: boolean;
}

export type ReadResult =
  | { status: 'moved'; to: string }
  | { status: 'missing' }
  | {
      status: 'live';
      meta: Meta;
      identifiers?: IdentifierRow[];
      traits?: { key: string; value: unknown; ts: number; source_id: string | null }[];
      links?: LinkRow[];
      merges?: MergedRow[];
      events?: EventRow[];
      messageIds?: string[];
    };

// ---- Audiences and computed traits ----

export type RefreshStatus = 'evaluated' | 'current' | 'missing' | 'moved' | 'busy';

/** A stored result: an audience membership (boolean) or a computed trait value. */
export interface EngageValue {
  key: string;
  kind: 'audience' | 'computed_trait';
  /** Definition id (Segment's computation_id) and the version that computed it. */
  defId: string;
  version: number;
  value: unknown;
  /** Number of changes so far: makes each change's messageId unique and stable. */
  seq: number;
  updatedAt: number;
}

/** A profile's stored audience and computed-trait results, or where it went. */
export type AudienceValues =
  | { status: 'live'; values: EngageValue[] }
  | { status: 'moved'; to: string }
  | { status: 'missing' };
