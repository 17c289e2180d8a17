import type { Collection } from '../identity/identifiers';
import type { LimitSpec } from '../identity/settings';
import type { IngestMessage } from '../ingest/spec';
import { ulid } from '../lib/ids';
import type { EventRow } from './apply';
import type { EventQuery, HistoryChunk, HistoryCursor } from './event-log';
import type { Profile } from './profile-do';
import type { IdentifierRow, LinkRow, MergedRow, Meta, ProfileExport } from './store';

/** The RPC contract of the `Profile` Durable Object, shared by the resolver and the APIs. */

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
  /** Write an outbox row per new event (users); accounts only keep the log. */
  emit: boolean;
}

export type ApplyResult =
  | Redirect
  | { status: 'ok'; applied: number; duplicates: number; snapshot: ProfileSnapshot }
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
  history: { chunk: HistoryChunk; next?: HistoryCursor };
  reason: string;
  limits: LimitSpec;
}

export type AbsorbResult = Redirect | { status: 'ok' } | { status: 'conflict'; breaks: string[] };

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

/** Prefix of profile ids per collection, as Segment's `use_…` ids. */
const PREFIX: Record<Collection, string> = { users: 'use_', accounts: 'acc_' };

/** A new, time-ordered profile id: the smaller id survives a merge. */
export const mintProfileId = (collection: Collection) => PREFIX[collection] + ulid();

/** True when a profile id belongs to the collection. */
export const isOf = (collection: Collection, id: string) => id.startsWith(PREFIX[collection]);

/** True for strings shaped like a profile id. */
export const isProfileId = (s: string) => /^(use|acc)_[0-9A-HJKMNP-TV-Z]{26}$/.test(s);

type Methods =
  | 'describe'
  | 'apply'
  | 'mergeInto'
  | 'absorb'
  | 'historyPage'
  | 'settle'
  | 'read'
  | 'refreshAudiences'
  | 'audienceValues'
  | 'erase';
/** The profile's RPC surface with its declared result types (trait values are JSON, `unknown` here). */
export type ProfileRpc = {
  [K in Methods]: Profile[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** The stub of one profile. */
export function profileStub(env: Env, id: string): ProfileRpc {
  return env.PROFILE.get(env.PROFILE.idFromName(id)) as unknown as ProfileRpc;
}
