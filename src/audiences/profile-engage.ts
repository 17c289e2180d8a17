import type { OutboundEvent } from '../delivery/messages';
import type { Collection } from '../identity/identifiers';
import type { SqlMeter } from '../profiles/sql-meter';
import { AggregateMerge, type AggregatesExport, type MatchCursor } from './aggregate-merge';
import { AggregateStore, type FoldEvent, type MatchExport } from './aggregate-store';
import { getDefinitions } from './cache';
import type { DefinitionSet } from './compile';
import type { MembershipChange } from './membership';
import { evaluateInTransaction, type HookResult } from './profile-hook';
import { type EngageState, EngageStore, type EngageValue } from './profile-store';
import { WindowResults } from './window-results';

/** The `work` queue message carrying one profile's membership changes to D1. */
export interface MembershipMessage {
  type: 'engage.membership';
  changes: MembershipChange[];
}

/** What the Profile object lends its audience evaluation. */
export interface ProfileSeams {
  /** Writes an outbox row in the current transaction. */
  enqueue(message: OutboundEvent, now: number): void;
  /** Sends the outbox (joins a flush in progress). */
  flushOutbox(): Promise<void>;
  /** Arms the object's alarm no later than `at`. */
  arm(at: number): void;
}

/** Definitions as the Profile object loads them before applying: undefined when D1 could not be read. */
export type EngageSet = DefinitionSet | undefined;

export type RefreshStatus = 'evaluated' | 'current' | 'missing' | 'moved' | 'busy';

/** A profile's stored audience and computed-trait results, or where it went. */
export type AudienceValues =
  | { status: 'live'; values: EngageValue[] }
  | { status: 'moved'; to: string }
  | { status: 'missing' };

/** Retry delay for membership rows that could not be sent and evaluations that could not run. */
export const ENGAGE_RETRY_MS = 30_000;
const MEMBERSHIP_PER_MESSAGE = 500;

/**
 * Audiences and computed traits inside one Profile object (DESIGN.md §4): evaluation in the apply
 * transaction, re-evaluation on the window-edge alarm and for back-fills, and the drain of
 * membership changes to D1 through the `work` queue. The object only calls in here.
 */
export class ProfileEngage {
  readonly store: EngageStore;
  /** Running aggregates and match rows (all-time results, windows, future events). */
  readonly aggregates: AggregateStore;
  readonly windows: WindowResults;
  private readonly merging: AggregateMerge;
  private flushing: Promise<void> | undefined;
  /** Set when an evaluation wrote outbox rows that `afterCommit` must send. */
  private wroteOutbox = false;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly seams: ProfileSeams,
    sql: SqlMeter,
  ) {
    this.store = new EngageStore(sql);
    this.windows = new WindowResults(sql);
    this.aggregates = new AggregateStore(
      sql,
      (bytes) => sql.noteParsed(bytes),
      (spec, ts) => this.windows.onMatch(spec, ts),
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
  ): HookResult | null {
    if (!set) {
      this.foldOnly(applied, now);
      this.store.markStale();
      return null;
    }
    if (!set.audiences.length && !set.computedTraits.length && !this.store.values().length) {
      this.aggregates.sync(new Map(), now); // definitions deleted: their aggregates go too
      const s = this.store.state(); // nothing defined: the common case, kept to reads
      if (s.revision !== set.revision || s.nextChangeAt !== null || s.stale)
        this.store.setState({ revision: set.revision, nextChangeAt: null, stale: false });
      return null;
    }
    const enqueue = (m: OutboundEvent) => this.seams.enqueue(m, now);
    try {
      const input = { profileId, collection, now, enqueue };
      // A nested transactionSync is a savepoint: a failure undoes a half-done back-fill or fold.
      const result = this.ctx.storage.transactionSync(() =>
        evaluateInTransaction(this.store, this, set, input, applied),
      );
      if (result.outbound) this.wroteOutbox = true;
      return result;
    } catch (err) {
      // A definition that cannot be evaluated must not stop events from being applied, nor be
      // missing from the aggregates the profile already keeps.
      console.error('audience evaluation failed; retried by the alarm', err);
      this.foldOnly(applied, now);
      this.store.markStale();
      return null;
    }
  }

  /** Folds applied events into the aggregates already kept (their specs describe themselves). */
  private foldOnly(applied: readonly FoldEvent[], now: number): void {
    if (!applied.length) return;
    try {
      this.ctx.storage.transactionSync(() => {
        const specs = this.aggregates.specs();
        for (const e of applied) for (const row of specs.values()) this.aggregates.fold(row, e, now);
      });
    } catch (err) {
      console.error('could not fold events into audience aggregates', err);
    }
  }

  /**
   * Re-evaluates in a transaction of its own (alarm, back-fill, after absorbing a merge), then sends
   * what it wrote. With `minRevision`, a profile already evaluated at that revision is left alone.
   */
  async refresh(opts: { minRevision?: number; now?: number } = {}): Promise<RefreshStatus> {
    const before = this.store.profile();
    if (!before) return 'missing';
    if (before.mergedInto) return 'moved';
    if (before.pending) return 'busy';
    const state = this.store.state();
    if (opts.minRevision !== undefined && state.revision >= opts.minRevision && !state.stale) return 'current';
    const set = await this.definitions(before.collection, opts.minRevision);
    if (!set) throw new Error('audience definitions unavailable');
    const now = opts.now ?? Date.now();
    const status = this.ctx.storage.transactionSync((): RefreshStatus => {
      const p = this.store.profile();
      if (!p) return 'missing';
      if (p.mergedInto) return 'moved';
      if (p.pending) return 'busy';
      this.evaluate(set, p.id, p.collection, now);
      return 'evaluated';
    });
    if (status === 'evaluated') this.afterCommit();
    return status;
  }

  /** `refresh`, or when definitions cannot be read now, an evaluation owed to the alarm. */
  async refreshOrDefer(): Promise<void> {
    try {
      await this.refresh();
    } catch (err) {
      console.warn('audience re-evaluation deferred', err);
      this.ctx.storage.transactionSync(() => this.store.markStale());
      this.seams.arm(Date.now() + ENGAGE_RETRY_MS);
    }
  }

  /** After a commit that evaluated: sends the outbox and membership rows, arms the window-edge alarm. */
  afterCommit(): void {
    if (this.wroteOutbox) {
      this.wroteOutbox = false;
      this.ctx.waitUntil(this.seams.flushOutbox().catch((err) => console.warn('outbox flush failed', err)));
    }
    this.ctx.waitUntil(this.flush().catch((err) => console.warn('membership flush failed', err)));
    const next = this.nextAlarm();
    if (next !== null) this.seams.arm(next);
  }

  /** The alarm's part: re-evaluates when a window edge passed (or an evaluation is owed), sends membership. */
  async onAlarm(now = Date.now()): Promise<void> {
    const s = this.store.state();
    if (s.stale || (s.nextChangeAt !== null && s.nextChangeAt <= now)) {
      try {
        await this.refresh({ now });
      } catch (err) {
        console.warn('audience re-evaluation failed; retrying later', err);
        this.ctx.storage.transactionSync(() => this.store.markStale());
      }
    }
    await this.flush().catch((err) => console.warn('membership flush failed; retrying later', err));
  }

  /** When the object's alarm must fire for audiences (window edge, or a retry); null if never. */
  nextAlarm(now = Date.now()): number | null {
    const s: EngageState = this.store.state();
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
      const profile = this.store.profile();
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

  absorbPage(
    loserId: string,
    exp: AggregatesExport | undefined,
    chunk: Parameters<AggregateMerge['page']>[2],
    now = Date.now(),
  ): void {
    this.merging.page(loserId, exp, chunk, now);
    this.windows.invalidate(); // rows were written without counting them in stored windows
  }

  absorbFinish(loserId: string, exp: AggregatesExport | undefined): void {
    this.merging.finish(loserId, exp);
    this.windows.invalidate();
  }

  /** Stored results (all, or only the given keys) for the Profile API and personalization. */
  read(keys?: readonly string[]): AudienceValues {
    const p = this.store.profile();
    if (!p) return { status: 'missing' };
    if (p.mergedInto) return { status: 'moved', to: p.mergedInto };
    return { status: 'live', values: this.store.values(keys) };
  }
}
