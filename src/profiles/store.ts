import { type DeliveryMessage, type OutboundEvent, packOutbound } from '../delivery/messages';
import { parseKey } from '../identity/identifiers';
import type { ProfileView } from '../identity/resolve';
import { boundTraits } from './directory';
import { MergedFromStore } from './merged-store';
import { type MetaRow, readMeta, writeMeta } from './meta-row';
import type { IdentifierRow, LinkRow, MergedRow, Meta, ProfileExport, ProfileSnapshot, TraitRow } from './rpc';
import type { Sql } from './sql-meter';
import { ProfileTables } from './tables';
import { TraitStore, type TraitWriter } from './trait-store';
import type { StampedValue } from './traits';

export { PROFILE_FRESH, PROFILE_SCHEMA } from './schema';

/** Most bytes of events one outbox row holds (a row may take 2 MB; an apply of 50 events of 32 KB is 1.6 MB). */
const OUTBOX_ROW_BYTES = 512 * 1024;

type Row<T> = T & Record<string, SqlStorageValue>;
type StoredIdentifier = Omit<IdentifierRow, 'key'>;
/** Columns of the meta row one write may set: `Meta`'s, and the JSON of identifiers, traits, merges and log. */
export type MetaPatch = Partial<MetaRow>;

/** The meta row's columns a `Meta` holds (not its identifiers). */
const META_COLUMNS = [
  'id',
  'collection',
  'merged_into',
  'pending',
  'version',
  'event_count',
  'created_at',
  'updated_at',
  'last_seen_at',
  'first_message_id',
  'first_source_id',
  'last_message_id',
  'last_source_id',
] as const satisfies (keyof Meta)[];
const PERSON_KINDS = new Set(['user_id', 'anonymous_id', 'email', 'group_id']);
const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * SQL access to a Profile object's identity, traits, links, merges and outbox. Synchronous. Links
 * and merges are created on first write (tables.ts) and read empty before.
 */
export class ProfileStore {
  private readonly tables: ProfileTables;
  private readonly traitStore: TraitStore;
  private readonly merges: MergedFromStore;

  constructor(private readonly sql: Sql) {
    this.tables = new ProfileTables(sql);
    this.traitStore = new TraitStore(sql, this.tables);
    this.merges = new MergedFromStore(sql, this.tables);
  }

  /** The meta row (a profile not written yet: its defaults, `FRESH_META`). */
  meta(): Meta {
    return readMeta(this.sql, ...META_COLUMNS);
  }

  setMeta(patch: MetaPatch): void {
    writeMeta(this.sql, patch);
  }

  /**
   * Counts a change (the directory keeps the snapshot with the highest version), with `patch` and
   * `added` more logged events, in one write of the meta row (once per apply; a new profile's
   * first one inserts the row).
   */
  bumpWith(now: string, patch: MetaPatch, added: number): void {
    writeMeta(this.sql, { ...patch, updated_at: now }, { version: 1, event_count: added });
  }

  /** The identifiers, by key (one read of the meta row's JSON). */
  private identifierMap(): Record<string, StoredIdentifier> {
    return JSON.parse(readMeta(this.sql, 'identifiers_json').identifiers_json);
  }

  identifierKeys(): string[] {
    return Object.keys(this.identifierMap()).sort();
  }

  /** Oldest first (then by key). */
  identifierRows(): IdentifierRow[] {
    return Object.entries(this.identifierMap())
      .map(([key, r]) => ({
        key,
        kind: r.kind,
        value: r.value,
        source_id: r.source_id ?? null,
        first_message_id: r.first_message_id ?? null,
        created_at: r.created_at,
      }))
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : byKey(a, b)));
  }

  /** The identifiers audience events name a person by (user, anonymous, email, group), newest first. */
  personIdentifiers(): { kind: string; value: string }[] {
    return this.identifierRows()
      .filter((r) => PERSON_KINDS.has(r.kind))
      .sort((a, b) => (a.created_at > b.created_at ? -1 : a.created_at < b.created_at ? 1 : byKey(a, b)))
      .map((r) => ({ kind: r.kind, value: r.value }));
  }

  /** The keys of `keys` this profile does not hold yet. */
  missing(keys: string[]): string[] {
    const held = this.identifierMap();
    return keys.filter((k) => !Object.hasOwn(held, k));
  }

  /**
   * The identifiers JSON with `rows` not held yet added (one held keeps its first row), for the
   * caller's one meta write; undefined when none is new.
   */
  identifiersWith(rows: IdentifierRow[]): string | undefined {
    if (!rows.length) return undefined; // a known user's apply: no read of the identifiers
    const held = this.identifierMap();
    let added = false;
    for (const { key, ...r } of rows) {
      if (Object.hasOwn(held, key)) continue;
      held[key] = r;
      added = true;
    }
    return added ? JSON.stringify(held) : undefined;
  }

  /** Identifier rows for keys first seen in one event; `values`: sealed values of blind-indexed keys. */
  static newIdentifierRows(
    keys: string[],
    sourceId: string,
    messageId: string,
    now: string,
    values?: Record<string, string>,
  ): IdentifierRow[] {
    return keys.flatMap((key) => {
      const id = parseKey(key);
      if (!id) return [];
      const value = values?.[key] ?? id.value;
      return [{ key, kind: id.kind, value, source_id: sourceId, first_message_id: messageId, created_at: now }];
    });
  }

  mergedFrom(): MergedRow[] {
    return this.merges.rows();
  }

  mergeCount(): number {
    return this.merges.count();
  }

  /** What resolution needs to know about this profile. */
  view(id: string): ProfileView {
    const rows = Object.entries(this.identifierMap())
      .map(([key, r]) => ({ key, created_at: r.created_at }))
      .sort(byKey);
    const identifiers: string[] = [];
    const addedAt: Record<string, number> = {};
    for (const r of rows) {
      identifiers.push(r.key);
      addedAt[r.key] = Date.parse(r.created_at);
    }
    return { id, identifiers, merges: this.mergeCount(), addedAt };
  }

  /** Whether a profile was merged in: not at all, head only (history still arriving), or fully. */
  absorbState(profileId: string): 'none' | 'partial' | 'complete' {
    return this.merges.state(profileId);
  }

  /** Marks a merged profile's history as copied in; the meta columns that changes, for the caller's write. */
  completePatch(profileId: string): MetaPatch {
    return this.merges.complete(profileId);
  }

  traitRows(): TraitRow[] {
    return this.traitStore.rows();
  }

  traits(): Record<string, unknown> {
    return Object.fromEntries(this.traitRows().map((r) => [r.key, JSON.parse(r.value)]));
  }

  /** Last-write-wins changes of one transaction; their `patch()` goes into its meta write. */
  traitWriter(): TraitWriter {
    return this.traitStore.writer();
  }

  links(): LinkRow[] {
    return this.tables.rows<Row<LinkRow>>('links', 'SELECT * FROM links ORDER BY created_at, key');
  }

  /** Users linked to this account (`user_id:…` / `anonymous_id:…` keys), oldest first. */
  linkedUserKeys(limit: number): string[] {
    return this.tables
      .rows<{ key: string }>(
        'links',
        "SELECT key FROM links WHERE collection = 'users' ORDER BY created_at, key LIMIT ?",
        limit,
      )
      .map((r) => r.key);
  }

  addLinks(rows: LinkRow[]): void {
    for (const r of rows) {
      this.tables.write(
        'links',
        'INSERT INTO links (collection, key, source_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
        r.collection,
        r.key,
        r.source_id,
        r.created_at,
      );
    }
  }

  enqueue(msg: DeliveryMessage, now: number): void {
    this.tables.write('outbox', 'INSERT INTO outbox (body, created_at) VALUES (?, ?)', JSON.stringify(msg), now);
  }

  /** An apply's deliveries as one outbox row (a packed `events` body; more rows only past `OUTBOX_ROW_BYTES`). */
  enqueueAll(events: OutboundEvent[], now: number): void {
    for (const body of packOutbound(events, OUTBOX_ROW_BYTES)) this.enqueue(body, now);
  }

  outbox(limit = 100): { seq: number; body: DeliveryMessage }[] {
    return this.tables
      .rows<{ seq: number; body: string }>('outbox', 'SELECT seq, body FROM outbox ORDER BY seq LIMIT ?', limit)
      .map((r) => ({ seq: r.seq, body: JSON.parse(r.body) as DeliveryMessage }));
  }

  outboxSize(): number {
    return this.tables.rows<{ n: number }>('outbox', 'SELECT count(*) AS n FROM outbox')[0]?.n ?? 0;
  }

  deleteOutbox(upTo: number): void {
    this.tables.change('outbox', 'DELETE FROM outbox WHERE seq <= ?', upTo);
  }

  exportHead(): ProfileExport {
    return {
      meta: this.meta(),
      identifiers: this.identifierRows(),
      traits: this.traitRows(),
      links: this.links(),
      mergedFrom: this.mergedFrom(),
    };
  }

  /**
   * Takes in a merged profile's identifiers, traits (last-write-wins), links and merge history;
   * `complete` when its whole history comes in the same transaction. Returns the meta fields that
   * change, for the caller's one meta write (`bumpWith`).
   */
  importHead(head: ProfileExport, reason: string, now: string, complete = false): MetaPatch {
    const identifiers = this.identifiersWith(head.identifiers);
    const stamped: Record<string, StampedValue> = {};
    for (const t of head.traits) {
      stamped[t.key] = {
        value: JSON.parse(t.value),
        ts: t.ts,
        messageId: t.message_id,
        sourceId: t.source_id ?? undefined,
      };
    }
    const traits = this.traitWriter();
    traits.apply(stamped);
    this.addLinks(head.links);
    const merged = this.merges.add([
      ...head.mergedFrom,
      ...(head.meta.id ? [{ profile_id: head.meta.id, reason, merged_at: now, complete: complete ? 1 : 0 }] : []),
    ]);
    const m = this.meta();
    const patch: MetaPatch = { ...traits.patch(), ...merged };
    if (identifiers !== undefined) patch.identifiers_json = identifiers;
    const before = (a: string | null, b: string | null) => a !== null && (b === null || a < b);
    if (before(head.meta.created_at, m.created_at)) {
      patch.created_at = head.meta.created_at;
      patch.first_message_id = head.meta.first_message_id;
      patch.first_source_id = head.meta.first_source_id;
    }
    if (before(m.last_seen_at, head.meta.last_seen_at)) {
      patch.last_seen_at = head.meta.last_seen_at;
      patch.last_message_id = head.meta.last_message_id;
      patch.last_source_id = head.meta.last_source_id;
    }
    return patch;
  }

  /** What the directory stores about this profile now (traits bounded as the directory keeps them). */
  snapshot(): ProfileSnapshot {
    // One read of the meta row, identifiers and inline traits with it (an apply answers one each time).
    const m = readMeta(this.sql, ...META_COLUMNS, 'identifiers_json', 'traits_json');
    return {
      id: m.id ?? '',
      collection: m.collection ?? 'users',
      version: m.version,
      mergedInto: m.merged_into ?? undefined,
      identifiers: Object.keys(JSON.parse(m.identifiers_json)).sort(),
      traits: boundTraits(this.traitStore.rows(m.traits_json).map((r) => ({ key: r.key, json: r.value, ts: r.ts }))),
      eventCount: m.event_count,
      createdAt: m.created_at ?? '',
      updatedAt: m.updated_at ?? '',
      lastSeenAt: m.last_seen_at ?? undefined,
    };
  }

  /**
   * Makes a merged profile a tombstone pointing at `to`: its data goes, meta and unsent outbox
   * rows stay; meta is written once (the pointer, the emptied fields, an empty inline log and the
   * version bump). Tables are dropped, not emptied: a DELETE is billed a row per row it removes, a
   * DROP none. They are absent again, as in a new object (tables.ts).
   */
  tombstone(to: string, now: string): void {
    for (const t of ['event_log', 'traits', 'seen', 'links', 'merged_from'] as const) this.tables.drop(t);
    writeMeta(
      this.sql,
      {
        event_count: 0,
        identifiers_json: '{}',
        traits_json: '{}',
        merges_json: '[]',
        log_json: '[]',
        merged_into: to,
        pending: null,
        updated_at: now,
      },
      { version: 1 },
    );
  }
}
