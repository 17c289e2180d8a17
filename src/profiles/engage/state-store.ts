import type { Change } from '../../audiences/evaluate';
import type { EngageValue } from '../rpc';
import type { Sql } from '../sql-meter';
import { ProfileTables } from '../tables';

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

export interface EngageState {
  /** Definitions revision of the last evaluation. */
  revision: number;
  /** When a window edge can change a result next (epoch ms); the profile's alarm fires then. */
  nextChangeAt: number | null;
  /** True when an evaluation was skipped (definitions unavailable) and must be made up. */
  stale: boolean;
}

/** The state of a profile that has none stored yet. */
const INITIAL: EngageState = { revision: 0, nextChangeAt: null, stale: false };

type Row<T> = T & Record<string, SqlStorageValue>;
type ValueRow = { key: string; kind: string; def_id: string; version: number; value: string; seq: number; at: number };

/**
 * SQL of the engage tables (results, evaluation state, membership changes waiting for D1). The
 * profile's traits, identifiers and events are read through `ProfileStore` and `EventLog`, never
 * here. Each table is created on its first write (tables.ts): a profile no audience ever looked at
 * has none, and reads them as empty (the state as `INITIAL`). Synchronous, so it runs inside the
 * apply transaction.
 */
export class EngageStore {
  private readonly tables: ProfileTables;

  constructor(sql: Sql) {
    this.tables = new ProfileTables(sql);
  }

  values(keys?: readonly string[]): EngageValue[] {
    const rows = this.tables.rows<Row<ValueRow>>(
      'engage_values',
      'SELECT key, kind, def_id, version, value, seq, updated_at AS at FROM engage_values',
    );
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
    for (const key of keys) this.tables.change('engage_values', 'DELETE FROM engage_values WHERE key = ?', key);
  }

  /** Stores a changed value; returns its new change count. */
  saveChange(c: Change, now: number): number {
    return this.tables
      .write<{ seq: number }>(
        'engage_values',
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
    const s = this.tables.rows<{ revision: number; next_change_at: number | null; stale: number }>(
      'engage_state',
      'SELECT revision, next_change_at, stale FROM engage_state',
    )[0];
    return s ? { revision: s.revision, nextChangeAt: s.next_change_at, stale: s.stale === 1 } : { ...INITIAL };
  }

  /** Writes the state: one row (an upsert, the table's first write creating it). */
  setState(s: EngageState): void {
    this.tables.write(
      'engage_state',
      `INSERT INTO engage_state (one, revision, next_change_at, stale) VALUES (1, ?, ?, ?)
       ON CONFLICT (one) DO UPDATE SET revision = excluded.revision, next_change_at = excluded.next_change_at,
         stale = excluded.stale`,
      s.revision,
      s.nextChangeAt,
      s.stale ? 1 : 0,
    );
  }

  markStale(): void {
    this.tables.write(
      'engage_state',
      'INSERT INTO engage_state (one, stale) VALUES (1, 1) ON CONFLICT (one) DO UPDATE SET stale = 1',
    );
  }

  addMembership(audienceId: string, member: boolean, at: number): void {
    this.tables.write(
      'engage_membership',
      'INSERT INTO engage_membership (audience_id, member, at) VALUES (?, ?, ?)',
      audienceId,
      member ? 1 : 0,
      at,
    );
  }

  pendingMembership(limit: number): { seq: number; audienceId: string; member: boolean; at: number }[] {
    return this.tables
      .rows<{ seq: number; audience_id: string; member: number; at: number }>(
        'engage_membership',
        'SELECT seq, audience_id, member, at FROM engage_membership ORDER BY seq LIMIT ?',
        limit,
      )
      .map((r) => ({ seq: r.seq, audienceId: r.audience_id, member: r.member === 1, at: r.at }));
  }

  deleteMembership(upTo: number): void {
    this.tables.change('engage_membership', 'DELETE FROM engage_membership WHERE seq <= ?', upTo);
  }

  /** A merged-away profile leaves every audience (in D1 only) and forgets its results. */
  leaveAll(now: number): void {
    for (const v of this.values())
      if (v.kind === 'audience' && v.value === true) this.addMembership(v.defId, false, now);
    this.tables.drop('engage_values');
    this.tables.change('engage_state', 'UPDATE engage_state SET next_change_at = NULL, stale = 0');
  }
}
