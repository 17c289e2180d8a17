import type { Collection } from '../identity/identifiers';
import type { Sql } from '../profiles/sql-meter';
import type { Change } from './evaluate';

/**
 * The Profile object's audience tables, one migration step of its SQLite schema (appended to
 * `PROFILE_SCHEMA`): the last evaluated value of each computed trait and audience, when to evaluate
 * next (the window-edge alarm), and membership changes waiting to be written to D1.
 */
export const ENGAGE_PROFILE_SCHEMA = `
  CREATE TABLE engage_values (key TEXT PRIMARY KEY, kind TEXT NOT NULL, def_id TEXT NOT NULL,
    version INTEGER NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE engage_state (one INTEGER PRIMARY KEY CHECK (one = 1), revision INTEGER NOT NULL DEFAULT 0,
    next_change_at INTEGER, stale INTEGER NOT NULL DEFAULT 0);
  INSERT INTO engage_state (one) VALUES (1);
  CREATE TABLE engage_membership (seq INTEGER PRIMARY KEY AUTOINCREMENT, audience_id TEXT NOT NULL,
    member INTEGER NOT NULL, at INTEGER NOT NULL);`;

/** A stored result: an audience membership (boolean) or a computed trait value. */
export interface EngageValue {
  key: string;
  kind: Change['kind'];
  /** Definition id (Segment's computation_id) and the version that computed it. */
  defId: string;
  version: number;
  value: unknown;
  /** Number of changes so far: makes each change's messageId unique and stable. */
  seq: number;
  updatedAt: number;
}

export interface EngageState {
  /** Definitions revision of the last evaluation. */
  revision: number;
  /** When a window edge can change a result next (epoch ms); the profile's alarm fires then. */
  nextChangeAt: number | null;
  /** True when an evaluation was skipped (definitions unavailable) and must be made up. */
  stale: boolean;
}

/** Who the profile is, as Engage events name them. */
export interface ProfileIdentity {
  userId?: string;
  anonymousId?: string;
  email?: string;
  groupId?: string;
  /** Users linked to an account (`user_id:…` / `anonymous_id:…` keys), for account audience events. */
  linkedUsers: string[];
}

/** Most linked users an account audience event is sent for. */
export const MAX_LINKED_USERS = 100;

type Row<T> = T & Record<string, SqlStorageValue>;
type ValueRow = { key: string; kind: string; def_id: string; version: number; value: string; seq: number; at: number };

/**
 * SQL access for audience evaluation inside a Profile object: reads its traits, identifiers, links
 * and event log, and reads/writes the engage tables. Synchronous, so it runs inside the apply
 * transaction.
 */
export class EngageStore {
  constructor(private readonly sql: Sql) {}

  traits(): Record<string, unknown> {
    const rows = this.sql.exec<{ key: string; value: string }>('SELECT key, value FROM traits').toArray();
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value)]));
  }

  /** userId, the latest anonymousId, email (trait, else identifier), groupId and linked users. */
  identity(traits: Record<string, unknown>): ProfileIdentity {
    const ids = this.sql
      .exec<{ kind: string; value: string }>(
        `SELECT kind, value FROM identifiers WHERE kind IN ('user_id', 'anonymous_id', 'email', 'group_id')
         ORDER BY created_at DESC, key`,
      )
      .toArray();
    const first = (kind: string) => ids.find((r) => r.kind === kind)?.value;
    const email = typeof traits.email === 'string' && traits.email.trim() ? traits.email.trim() : first('email');
    const linkedUsers = this.sql
      .exec<{ key: string }>(
        "SELECT key FROM links WHERE collection = 'users' ORDER BY created_at, key LIMIT ?",
        MAX_LINKED_USERS,
      )
      .toArray()
      .map((r) => r.key);
    return {
      userId: first('user_id'),
      anonymousId: first('anonymous_id'),
      email,
      groupId: first('group_id'),
      linkedUsers,
    };
  }

  /** Profile id, collection and merge state, or null before the first event. */
  profile(): { id: string; collection: Collection; mergedInto: string | null; pending: boolean } | null {
    const m = this.sql
      .exec<{ id: string | null; collection: Collection | null; merged_into: string | null; pending: string | null }>(
        'SELECT id, collection, merged_into, pending FROM meta',
      )
      .one();
    if (!m.id) return null;
    return { id: m.id, collection: m.collection ?? 'users', mergedInto: m.merged_into, pending: m.pending !== null };
  }

  values(keys?: readonly string[]): EngageValue[] {
    const rows = this.sql
      .exec<Row<ValueRow>>('SELECT key, kind, def_id, version, value, seq, updated_at AS at FROM engage_values')
      .toArray();
    const wanted = keys && new Set(keys);
    return rows
      .filter((r) => !wanted || wanted.has(r.key))
      .map((r) => ({
        key: r.key,
        kind: r.kind as Change['kind'],
        defId: r.def_id,
        version: r.version,
        value: JSON.parse(r.value),
        seq: r.seq,
        updatedAt: r.at,
      }));
  }

  deleteValues(keys: readonly string[]): void {
    for (const key of keys) this.sql.exec('DELETE FROM engage_values WHERE key = ?', key);
  }

  /** Stores a changed value; returns its new change count. */
  saveChange(c: Change, now: number): number {
    return this.sql
      .exec<{ seq: number }>(
        `INSERT INTO engage_values (key, kind, def_id, version, value, seq, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?)
         ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, def_id = excluded.def_id, version = excluded.version,
           value = excluded.value, seq = seq + 1, updated_at = excluded.updated_at
         RETURNING seq`,
        c.key,
        c.kind,
        c.id,
        c.version,
        JSON.stringify(c.value ?? null),
        now,
      )
      .one().seq;
  }

  state(): EngageState {
    const s = this.sql
      .exec<{ revision: number; next_change_at: number | null; stale: number }>(
        'SELECT revision, next_change_at, stale FROM engage_state',
      )
      .one();
    return { revision: s.revision, nextChangeAt: s.next_change_at, stale: s.stale === 1 };
  }

  setState(s: EngageState): void {
    this.sql.exec(
      'UPDATE engage_state SET revision = ?, next_change_at = ?, stale = ?',
      s.revision,
      s.nextChangeAt,
      s.stale ? 1 : 0,
    );
  }

  markStale(): void {
    this.sql.exec('UPDATE engage_state SET stale = 1');
  }

  addMembership(audienceId: string, member: boolean, at: number): void {
    this.sql.exec(
      'INSERT INTO engage_membership (audience_id, member, at) VALUES (?, ?, ?)',
      audienceId,
      member ? 1 : 0,
      at,
    );
  }

  pendingMembership(limit: number): { seq: number; audienceId: string; member: boolean; at: number }[] {
    return this.sql
      .exec<{ seq: number; audience_id: string; member: number; at: number }>(
        'SELECT seq, audience_id, member, at FROM engage_membership ORDER BY seq LIMIT ?',
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, audienceId: r.audience_id, member: r.member === 1, at: r.at }));
  }

  deleteMembership(upTo: number): void {
    this.sql.exec('DELETE FROM engage_membership WHERE seq <= ?', upTo);
  }

  /** A merged-away profile leaves every audience (in D1 only) and forgets its results. */
  leaveAll(now: number): void {
    for (const v of this.values())
      if (v.kind === 'audience' && v.value === true) this.addMembership(v.defId, false, now);
    this.sql.exec('DELETE FROM engage_values');
    this.sql.exec('UPDATE engage_state SET next_change_at = NULL, stale = 0');
  }
}
