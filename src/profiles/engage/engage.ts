import { getDefinitions } from '../../audiences/cache';
import type { DefinitionSet } from '../../audiences/compile';
import type { MembershipMessage } from '../../audiences/membership';
import type { Collection } from '../../identity/identifiers';
import type { EventLog } from '../event-log';
import type { AggregatesExport, AudienceValues, HistoryChunk, MatchExport, RefreshStatus } from '../rpc';
import type { SqlMeter } from '../sql-meter';
import type { ProfileStore } from '../store';
import { AggregateMerge, type MatchCursor } from './aggregate-merge';
import { AggregateStore, type FoldEvent } from './aggregate-store';
import { type Evaluation, evaluateInTransaction } from './evaluation';
import { EngageStore } from './state-store';
import { WindowResults } from './window-results';

/** Definitions as the Profile object loads them before applying: undefined when D1 could not be read. */
export type EngageSet = DefinitionSet | undefined;

/** What a re-evaluation did: its status, and (when it evaluated) whether it wrote outbox rows. */
export interface Refresh {
  status: RefreshStatus;
  outboxWritten: boolean;
}

/** Retry delay for membership rows that could not be sent and evaluations that could not run. */
export const ENGAGE_RETRY_MS = 30_000;
const MEMBERSHIP_PER_MESSAGE = 500;
const NOTHING: Evaluation = { outboxWritten: false, nextChangeAt: null };

/**
 * Audiences and computed traits inside one Profile object (DESIGN.md §4): evaluation in the apply
 * transaction, re-evaluation on the window-edge alarm and for back-fills, and the drain of
 * membership changes to D1 through the `work` queue. It reads the profile through `ProfileStore`
 * and `EventLog`, keeps its own tables, and returns what it did; the object sends and arms alarms.
 */
export class ProfileEngage {
  readonly store: EngageStore;
  /** Running aggregates and match rows (all-time results, windows, future events). */
  readonly aggregates: AggregateStore;
  readonly windows: WindowResults;
  private readonly merging: AggregateMerge;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly env: Env,
    private readonly profile: ProfileStore,
    log: EventLog,
    private readonly sql: SqlMeter,
  ) {
    this.store = new EngageStore(sql);
    this.windows = new WindowResults(sql);
    this.aggregates = new AggregateStore(
      sql,
      (bytes) => sql.noteParsed(bytes),
      (spec, ts) => this.windows.onMatch(spec, ts),
      log,
    );
    this.merging = new AggregateMerge(sql, this.aggregates);
  }

  /**
   * The definitions of a collection, never older than those this profile last evaluated (nor
   * `minRevision`). Undefined when D1 cannot be read: the apply goes on and the alarm catches up.
   */
  async definitions(collection: Collection, minRevision = 0): Promise<DefinitionSet | undefined> {
    try {
      const min = Math.max(minRevision, this.store.state().revision);
      return await getDefinitions(this.env.DB, { collection, minRevision: min });
    } catch (err) {
      console.warn('audience definitions unavailable; evaluation deferred', err);
      return undefined;
    }
  }

  /**
   * Evaluates inside the caller's transaction (the apply), folding the events it applied into the
   * aggregates. Without definitions, the events are still folded into the aggregates the profile
   * keeps (specs describe themselves), and the evaluation is marked owed.
   */
  evaluate(
    set: DefinitionSet | undefined,
    profileId: string,
    collection: Collection,
    now: number,
    applied: readonly FoldEvent[] = [],
  ): Evaluation {
    if (!set) {
      this.foldOnly(applied, now);
      this.store.markStale();
      return NOTHING;
    }
    if (!set.audiences.length && !set.computedTraits.length && !this.store.values().length) {
      this.aggregates.sync(new Map(), now); // definitions deleted: their aggregates go too
      const s = this.store.state(); // nothing defined: the common case, kept to reads
      if (s.revision !== set.revision || s.nextChangeAt !== null || s.stale)
        this.store.setState({ revision: set.revision, nextChangeAt: null, stale: false });
      return NOTHING;
    }
    try {
      const stores = { profile: this.profile, engage: this.store, aggregates: this.aggregates, windows: this.windows };
      // A nested transaction is a savepoint: a failure undoes a half-done back-fill or fold.
      return this.sql.transaction(() => evaluateInTransaction(stores, set, { profileId, collection, now }, applied));
    } catch (err) {
      // A definition that cannot be evaluated must not stop events from being applied, nor be
      // missing from the aggregates the profile already keeps.
      console.error('audience evaluation failed; retried by the alarm', err);
      this.foldOnly(applied, now);
      this.store.markStale();
      return NOTHING;
    }
  }

  /** Folds applied events into the aggregates already kept (their specs describe themselves). */
  private foldOnly(applied: readonly FoldEvent[], now: number): void {
    if (!applied.length) return;
    try {
      this.sql.transaction(() => {
        const specs = this.aggregates.specs();
        for (const e of applied) for (const row of specs.values()) this.aggregates.fold(row, e, now);
      });
    } catch (err) {
      console.error('could not fold events into audience aggregates', err);
    }
  }

  /**
   * Re-evaluates in a transaction of its own (alarm, back-fill, after absorbing a merge). With
   * `minRevision`, a profile already evaluated at that revision is left alone.
   */
  async refresh(opts: { minRevision?: number; now?: number } = {}): Promise<Refresh> {
    const early = (status: RefreshStatus): Refresh => ({ status, outboxWritten: false });
    const before = this.who();
    if (!before) return early('missing');
    if (before.mergedInto) return early('moved');
    if (before.pending) return early('busy');
    const state = this.store.state();
    if (opts.minRevision !== undefined && state.revision >= opts.minRevision && !state.stale) return early('current');
    const set = await this.definitions(before.collection, opts.minRevision);
    if (!set) throw new Error('audience definitions unavailable');
    const now = opts.now ?? Date.now();
    return this.sql.transaction((): Refresh => {
      const p = this.who();
      if (!p) return early('missing');
      if (p.mergedInto) return early('moved');
      if (p.pending) return early('busy');
      const done = this.evaluate(set, p.id, p.collection, now);
      return { status: 'evaluated', outboxWritten: done.outboxWritten };
    });
  }

  /** `refresh`, or when definitions cannot be read now, an evaluation owed to the alarm (`nextAlarm`). */
  async refreshOrDefer(): Promise<{ outboxWritten: boolean }> {
    try {
      return await this.refresh();
    } catch (err) {
      console.warn('audience re-evaluation deferred', err);
      this.sql.transaction(() => this.store.markStale());
      return { outboxWritten: false };
    }
  }

  /** The alarm's part: re-evaluates when a window edge passed (or an evaluation is owed), sends membership. */
  async onAlarm(now = Date.now()): Promise<Refresh | undefined> {
    const s = this.store.state();
    let done: Refresh | undefined;
    if (s.stale || (s.nextChangeAt !== null && s.nextChangeAt <= now)) {
      try {
        done = await this.refresh({ now });
      } catch (err) {
        console.warn('audience re-evaluation failed; retrying later', err);
        this.sql.transaction(() => this.store.markStale());
      }
    }
    await this.flush().catch((err) => console.warn('membership flush failed; retrying later', err));
    return done;
  }

  /** When the object's alarm must fire for audiences (window edge, or a retry); null if never. */
  nextAlarm(now = Date.now()): number | null {
    const s = this.store.state();
    const retry = s.stale || this.store.pendingMembership(1).length ? now + ENGAGE_RETRY_MS : null;
    if (s.nextChangeAt === null) return retry;
    return retry === null ? s.nextChangeAt : Math.min(retry, s.nextChangeAt);
  }

  /**
   * Sends pending membership rows to the `work` queue, oldest first, deleting them once queued. One
   * flush at a time, so one profile's changes are queued in order.
   */
  flush(): Promise<void> {
    if (!this.flushing) {
      // Cleared in `finally` (always asynchronous), so a drain that ends at once cannot stay stuck.
      const run = this.drain().finally(() => {
        if (this.flushing === run) this.flushing = undefined;
      });
      this.flushing = run;
    }
    return this.flushing;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const rows = this.store.pendingMembership(MEMBERSHIP_PER_MESSAGE);
      const profile = this.who();
      if (!rows.length || !profile) return;
      const changes = rows.map((r) => ({
        audienceId: r.audienceId,
        profileId: profile.id,
        member: r.member,
        at: r.at,
      }));
      const body: MembershipMessage = { type: 'engage.membership', changes };
      await this.env.WORK_QUEUE.send(body, { contentType: 'json' });
      this.store.deleteMembership(rows[rows.length - 1].seq);
    }
  }

  /** Profile id, collection and merge state, or null before the first event. */
  private who(): { id: string; collection: Collection; mergedInto: string | null; pending: boolean } | null {
    const m = this.profile.meta();
    if (!m.id) return null;
    return { id: m.id, collection: m.collection ?? 'users', mergedInto: m.merged_into, pending: m.pending !== null };
  }

  /** In the transaction that turns this profile into a tombstone: it leaves its audiences in D1. */
  mergedAway(now = Date.now()): void {
    this.store.leaveAll(now);
    this.aggregates.clear();
  }

  /** The loser's side of a merge: its aggregates (with the head), then its match rows (after its log). */
  exportAggregates(): AggregatesExport {
    return this.merging.exportSpecs();
  }

  matchPage(cursor?: MatchCursor): { rows: MatchExport[]; next?: MatchCursor } {
    return this.merging.matchPage(cursor);
  }

  /** The survivor's side, each in the transaction of the matching step of `Profile.absorb`. */
  absorbStart(exp: AggregatesExport | undefined, now = Date.now()): void {
    this.merging.start(exp, now);
  }

  absorbPage(loserId: string, exp: AggregatesExport | undefined, chunk: HistoryChunk, now = Date.now()): void {
    this.merging.page(loserId, exp, chunk, now);
    this.windows.invalidate(); // rows were written without counting them in stored windows
  }

  absorbFinish(loserId: string, exp: AggregatesExport | undefined): void {
    this.merging.finish(loserId, exp);
    this.windows.invalidate();
  }

  /** Stored results (all, or only the given keys) for the Profile API and personalization. */
  read(keys?: readonly string[]): AudienceValues {
    const p = this.who();
    if (!p) return { status: 'missing' };
    if (p.mergedInto) return { status: 'moved', to: p.mergedInto };
    return { status: 'live', values: this.store.values(keys) };
  }
}
