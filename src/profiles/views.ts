import { type Collection, extractIdentifiers } from '../identity/identifiers';
import type { EnrichedEvent } from '../ingest/spec';
import type { EventRow, IdentifierRow, LinkRow, Meta } from './rpc';

/**
 * Segment Profile API shapes, built from what a Profile object stores. Pure functions, so the
 * response format is tested without a running profile.
 */

/** Segment's list cursor. */
export interface Cursor {
  url: string;
  has_more: boolean;
  next: string;
  limit?: number;
}

/**
 * One external id as Segment lists it: `id` and `type`; with `verbose=true` also where and when
 * it was first seen (`source_id`, `collection`, `created_at`, `encoding`, `first_message_id`).
 */
export function externalIdView(r: IdentifierRow, collection: Collection, verbose: boolean) {
  // Segment's documented answer carries these fields without `verbose`; drop-in clients read them.
  const base = {
    id: r.value,
    type: r.kind,
    source_id: r.source_id ?? '',
    collection,
    created_at: r.created_at,
    encoding: 'none',
  };
  return verbose ? { ...base, first_message_id: r.first_message_id ?? '' } : base;
}

/** One trait, verbose or not. */
export function traitView(t: { value: unknown; ts: number; source_id: string | null }, verbose: boolean) {
  return verbose ? { value: t.value, source_id: t.source_id ?? '', updated_at: new Date(t.ts).toISOString() } : t.value;
}

/** One event of the log as Segment's `/events` returns it (snake_case envelope, spec fields kept). */
export function eventView(row: EventRow, profileId: string, collection: Collection) {
  const e = JSON.parse(row.body) as EnrichedEvent;
  const external_ids = extractIdentifiers(e, collection).map((id) => ({
    collection,
    type: id.kind,
    id: id.value,
    encoding: 'none',
  }));
  const view: Record<string, unknown> = {
    external_ids,
    context: e.context ?? {},
    type: e.type,
    message_id: e.messageId,
    source_id: row.sourceId,
    timestamp: new Date(row.ts).toISOString(),
  };
  if (e.type === 'track') {
    view.event = e.event;
    view.properties = e.properties ?? {};
  } else if (e.type === 'page' || e.type === 'screen') {
    view.name = e.name;
    view.properties = e.properties ?? {};
  } else if (e.type === 'identify' || e.type === 'group') {
    view.traits = e.traits ?? {};
    if (e.type === 'group') view.group_id = e.groupId;
  } else if (e.type === 'alias') {
    view.previous_id = e.previousId;
  }
  view.related = { [collection]: profileId };
  return view;
}

/** Segment's `/metadata`. */
export function metadataView(m: Meta) {
  return {
    created_at: m.created_at,
    updated_at: m.updated_at,
    expires_at: null,
    first_message_id: m.first_message_id,
    first_source_id: m.first_source_id,
    last_message_id: m.last_message_id,
    last_source_id: m.last_source_id,
  };
}

/** Segment's `/links`: accounts of a user, or users of an account, one entry per linked profile id. */
export function linkView(l: LinkRow) {
  const i = l.key.indexOf(':');
  return {
    to_collection: l.collection,
    external_ids: [
      {
        id: l.key.slice(i + 1),
        type: l.key.slice(0, i),
        source_id: l.source_id ?? '',
        collection: l.collection,
        created_at: l.created_at,
        encoding: 'none',
      },
    ],
  };
}

/** Opaque cursor of the events list: the position of the last event returned. */
export const encodeEventCursor = (ts: number, messageId: string) => btoa(`${ts}:${messageId}`);

/** Reads an events cursor back; undefined when it is not one. */
export function decodeEventCursor(next: string): { ts: number; messageId: string } | undefined {
  try {
    const raw = atob(next);
    const i = raw.indexOf(':');
    const ts = Number(raw.slice(0, i));
    if (i <= 0 || !Number.isFinite(ts)) return undefined;
    return { ts, messageId: raw.slice(i + 1) };
  } catch {
    return undefined;
  }
}
