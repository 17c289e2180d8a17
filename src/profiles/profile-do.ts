import { DurableObject } from 'cloudflare:workers';
import type { DeliveryMessage } from '../delivery/messages';
import { claimKeys, releaseKeys, repointKeys } from '../identity/index-do';
import { measureExcess } from '../identity/resolve';
import { migrateSqlite } from '../lib/do-schema';
import { sendJson } from '../lib/queue';
import { ALARM_DELAY_MS, AlarmSlot, type Committed, nextAlarmAt, owesAlarm } from './alarm';
import { readParts, writeMessages } from './commit';
import { type EngageSet, ProfileEngage } from './engage/engage';
import { EventLog, retentionFrom } from './event-log';
import { absorbBreaks, exportHistoryPage } from './merge';
import { OutboxSender } from './outbox';
import { profileStub } from './protocol';
import type {
  AbsorbInput,
  AbsorbResult,
  ApplyInput,
  ApplyResult,
  AudienceValues,
  Describe,
  HistoryCursor,
  HistoryPage,
  MergeInput,
  MergeResult,
  PendingMerge,
  ProfileRpc,
  ReadQuery,
  ReadResult,
  Redirect,
  RefreshStatus,
} from './rpc';
import { SqlMeter, type WorkCost } from './sql-meter';
import { PROFILE_FRESH, PROFILE_SCHEMA, ProfileStore } from './store';
import { reloadTables } from './tables';

/**
 * One unified customer (or account). Events are applied in one SQLite transaction each (dedupe,
 * traits, log, outbox row, audience evaluation); `afterCommit` then sends the outbox to the
 * `delivery` queue and membership changes to the `work` queue, and arms the one alarm that retries
 * what could not be sent, finishes an interrupted merge, passes audience window edges and applies
 * retention. Changes to the identifier set (new keys, merges) run one at a time under an in-memory
 * lock, because they wait on the index or on another profile.
 */
export class Profile extends DurableObject<Env> implements ProfileRpc {
  private readonly store: ProfileStore;
  private readonly log: EventLog;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly outbox: OutboxSender;
  private readonly engage: ProfileEngage;
  private readonly alarmSlot: AlarmSlot;
  protected readonly sql: SqlMeter;
  /** What the last apply's transaction cost (rows read and written, JSON parsed): diagnostics and tests. */
  lastApplyCost: WorkCost | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = new SqlMeter(ctx.storage.sql, (fn) => ctx.storage.transactionSync(fn));
    this.store = new ProfileStore(this.sql);
    this.log = new EventLog(this.sql);
    this.outbox = new OutboxSender(this.store, (messages) => this.send(messages));
    this.engage = new ProfileEngage(env, this.store, this.log, this.sql);
    this.alarmSlot = new AlarmSlot(ctx.storage);
    ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      await this.alarmSlot.restore();
    });
  }

  /** The latest schema (a new object: only what its first apply writes; the rest on first use, tables.ts). */
  private migrate(): void {
    this.sql.forget(); // after `deleteAll`, and a migration writes around the meter
    migrateSqlite(this.ctx.storage.sql, PROFILE_SCHEMA, PROFILE_FRESH);
    this.sql.forget();
    reloadTables(this.sql);
  }

  /** How resolution sees this profile: its identifiers, or where it went. */
  describe(profileId: string): Describe {
    return this.redirect() ?? { status: 'live', ...this.store.view(profileId) };
  }

  /** Applies events that resolution routed here; see `ApplyResult` for the answers. */
  async apply(input: ApplyInput): Promise<ApplyResult> {
    const early = this.redirect();
    if (early) return early;
    const set = await this.definitions(input.collection);
    return this.store.missing(input.keys).length
      ? await this.exclusive(() => this.applyWithNewKeys(input, set))
      : this.commit(input, [], set);
  }

  /** Merges this profile into a smaller one; it keeps only a tombstone. */
  mergeInto(input: MergeInput): Promise<MergeResult> {
    return this.exclusive(async () => {
      const m = this.store.meta();
      if (m.merged_into) return { status: 'moved', to: m.merged_into };
      let pending: PendingMerge | undefined = m.pending ? JSON.parse(m.pending) : undefined;
      if (!pending) {
        if (input.survivorId >= input.profileId) return { status: 'conflict', breaks: ['*order'] };
        pending = { to: input.survivorId, reason: input.reason, limits: input.limits };
        this.store.setMeta({ pending: JSON.stringify(pending), id: m.id ?? input.profileId });
        // Should this object die midway, the resolver's queue message is retried and finishes
        // the merge within seconds (it settles every owner it meets, as does any later lookup);
        // the alarm is only the backstop, so one already set (retention, days away) will do.
        this.alarmSlot.ensure(Date.now() + ALARM_DELAY_MS);
      }
      const res = await this.drive(input.profileId, pending);
      // Still pending while this object lives (the survivor unreachable or busy): retry soon.
      if (res.status === 'busy') this.afterCommit({ merge: true });
      return res;
    });
  }

  /** Takes in a merged profile (limits permitting), then pulls its event log page by page. */
  async absorb(input: AbsorbInput): Promise<AbsorbResult> {
    if (this.store.absorbState(input.loserId) === 'complete') return { status: 'ok' };
    return this.exclusive(async () => {
      const state = this.store.absorbState(input.loserId);
      if (state === 'complete') return { status: 'ok' };
      const m = this.store.meta();
      if (m.merged_into) return { status: 'moved', to: m.merged_into };
      if (m.pending) return { status: 'busy', absorbed: state !== 'none' };
      if (state === 'none') {
        if (input.loserId <= input.survivorId) return { status: 'conflict', breaks: ['*order'] };
        const breaks = absorbBreaks(this.store.view(input.survivorId), input);
        if (breaks.length) return { status: 'conflict', breaks };
        const now = new Date().toISOString();
        // A history that fits the first page (most merges: an anonymous visit) is taken in one
        // transaction, meta written once; a longer one is pulled page by page below.
        const whole = !input.history.next;
        this.sql.transaction(() => {
          const patch = this.store.importHead(input.head, input.reason, now, whole);
          // A survivor that held nothing yet (its object is new) takes its id here, in the same write.
          if (!this.store.meta().id)
            Object.assign(patch, {
              id: input.survivorId,
              collection: input.head.meta.collection ?? 'users',
              created_at: patch.created_at ?? now,
            });
          this.engage.absorbStart(input.head.engage);
          let added = 0;
          if (whole) {
            const imported = this.log.importHistory(input.history.chunk);
            added = imported.added;
            Object.assign(patch, imported.patch);
            this.engage.absorbPage(input.loserId, input.head.engage, input.history.chunk);
            this.engage.absorbFinish(input.loserId, input.head.engage);
          }
          this.store.bumpWith(now, patch, added);
        });
        if (whole) return this.absorbed();
      }
      // The first page came with the request; the rest (large profiles only) is pulled.
      const loser = profileStub(this.env, input.loserId);
      let page = input.history;
      for (;;) {
        const chunk = page.chunk;
        this.sql.transaction(() => {
          const { added, patch } = this.log.importHistory(chunk);
          if (added) this.store.bumpWith(new Date().toISOString(), patch, added);
          this.engage.absorbPage(input.loserId, input.head.engage, chunk);
        });
        if (!page.next) break;
        page = await loser.historyPage(page.next);
      }
      this.sql.transaction(() => {
        this.engage.absorbFinish(input.loserId, input.head.engage);
        this.store.bumpWith(new Date().toISOString(), this.store.completePatch(input.loserId), 0);
      });
      return this.absorbed();
    });
  }

  /** After a merged history is in: the results it may change, then what that left to send. */
  private async absorbed(): Promise<AbsorbResult> {
    const refreshed = await this.engage.refreshOrDefer();
    this.afterCommit({ flushOutbox: refreshed.outboxWritten, engage: true });
    return { status: 'ok' };
  }

  /** A page of this (frozen) profile's history, for the survivor of its merge. */
  historyPage(cursor?: HistoryCursor): HistoryPage {
    if (!this.store.meta().pending) throw new Error('history is only handed over during a merge');
    return exportHistoryPage(this.log, this.engage, cursor);
  }

  /** Waits for identifier work in progress, finishes an interrupted merge, then describes. */
  settle(profileId: string): Promise<Describe> {
    return this.exclusive(async () => {
      const m = this.store.meta();
      if (m.pending && !m.merged_into) await this.drive(m.id ?? profileId, JSON.parse(m.pending));
      return this.describe(profileId);
    });
  }

  /** Reads parts of the profile for the APIs; a merged profile answers where it went. */
  read(q: ReadQuery): ReadResult {
    return readParts(this.store, this.log, q);
  }

  /** Retries the outbox, finishes an interrupted merge, passes audience window edges, applies retention. */
  override async alarm(): Promise<void> {
    this.alarmSlot.clear();
    const m = this.store.meta();
    if (m.pending && m.id) await this.settle(m.id);
    await this.engage.onAlarm(); // window edges: re-evaluates (and sends membership), so exits go out with this flush
    let unsent = false;
    try {
      await this.outbox.flush();
    } catch (err) {
      console.warn('outbox flush failed; retrying later', err);
      unsent = true;
    }
    if (!this.store.meta().merged_into) {
      const retention = retentionFrom(this.env);
      this.sql.transaction(() => {
        this.log.prune(Date.now(), retention);
        this.engage.aggregates.prune(Date.now(), retention.seenMs);
      });
    }
    // Everything was awaited above: only the next alarm is left to arm (retention waits for an apply).
    this.alarmSlot.arm(this.nextAlarm({ outboxWritten: unsent, merge: true }));
  }

  /** Re-evaluates audiences for a back-fill (at least at `minRevision`). */
  async refreshAudiences(minRevision: number): Promise<RefreshStatus> {
    const done = await this.engage.refresh({ minRevision });
    if (done.status === 'evaluated') this.afterCommit({ flushOutbox: done.outboxWritten, engage: true });
    return done.status;
  }

  /** Stored audience and computed-trait results (all, or only `keys`). */
  audienceValues(keys?: string[]): AudienceValues {
    return this.engage.read(keys);
  }

  /** The audience definitions an apply evaluates (a D1 read when the isolate's cache revalidates); a seam the race tests hold. */
  protected definitions(collection: ApplyInput['collection']): Promise<EngageSet> {
    return this.engage.definitions(collection);
  }

  /**
   * Erases everything this object stores (events, traits, identifiers, outbox, engage state) for a
   * deletion regulation: `deleteAll()` drops the whole database, not row by row, so nothing is left
   * in free pages. Returns the identifier keys and merged-in profiles it held. Idempotent.
   */
  erase(): Promise<{ identifiers: string[]; mergedFrom: string[] }> {
    return this.exclusive(async () => {
      const identifiers = this.store.identifierKeys();
      const mergedFrom = this.store.mergedFrom().map((r) => r.profile_id);
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.alarmSlot.clear();
      // An empty schema again: a late call reads a missing profile instead of failing.
      this.migrate();
      return { identifiers, mergedFrom };
    });
  }

  /** Sends outbox rows to the delivery queue. A seam tests replace to simulate a queue outage. */
  protected async send(messages: DeliveryMessage[]): Promise<void> {
    await sendJson(this.env.DELIVERY_QUEUE, messages);
  }

  private redirect(m = this.store.meta()): Redirect | undefined {
    if (m.merged_into) return { status: 'moved', to: m.merged_into };
    if (m.pending) return { status: 'busy' };
    return undefined;
  }

  /** Runs identifier-changing work one at a time. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async applyWithNewKeys(input: ApplyInput, set: EngageSet): Promise<ApplyResult> {
    const early = this.redirect();
    if (early) return early;
    const fresh = this.store.missing(input.keys);
    if (fresh.length) {
      const view = this.store.view(input.profileId);
      const excess = measureExcess(new Set([...view.identifiers, ...fresh]), view.merges, [view], input.limits);
      if (excess.amount > 0) return { status: 'conflict', breaks: [...excess.kinds] };
      const owners = await claimKeys(this.env, fresh, input.profileId, input.reserved);
      const mine = fresh.filter((k) => owners[k] === input.profileId);
      // A key still pointing at a profile merged into this one is ours (the index is repointed lazily).
      const inherited = fresh.filter(
        (k) => owners[k] !== input.profileId && this.store.absorbState(owners[k]) !== 'none',
      );
      const lost = fresh.filter((k) => !mine.includes(k) && !inherited.includes(k));
      if (lost.length) {
        await releaseKeys(this.env, mine, input.profileId);
        return { status: 'lost', owners: Object.fromEntries(lost.map((k) => [k, owners[k]])) };
      }
      if (inherited.length) {
        await repointKeys(
          this.env,
          inherited.map((key) => ({ key, from: owners[key], to: input.profileId })),
        );
      }
    }
    return this.commit(input, fresh, set);
  }

  private commit(input: ApplyInput, fresh: string[], set: EngageSet): ApplyResult {
    // The caller awaited (definitions, the index) since it last looked: a merge may have exported
    // this profile's history meanwhile, and an event written now would be lost with the tombstone.
    const meta = this.store.meta();
    const late = this.redirect(meta);
    if (late) return late;
    const now = new Date();
    const { result, cost } = this.sql.measure(() =>
      this.sql.transaction(() => {
        // The meta row just read: nothing ran in between (the transaction starts synchronously).
        const written = writeMessages(this.store, this.log, input, fresh, now, meta);
        const evaluated = written.applied
          ? this.engage.evaluate(set, input.profileId, input.collection, now.getTime(), written.events)
          : undefined;
        return { ...written, evaluated };
      }),
    );
    this.lastApplyCost = cost;
    const { applied, duplicates, evaluated, handedOver } = result;
    const viaOutbox = input.emit && !input.handOver;
    this.afterCommit({
      // Users: rows are durable already; send them without holding up the caller (also what an
      // earlier flush left, when this apply was only duplicates).
      flushOutbox: viaOutbox || evaluated?.outboxWritten,
      // An outbox row needs the retry alarm in case this object dies before its flush; without
      // one (accounts, nothing to emit, or deliveries handed to the caller, who acks its queue
      // message only once it sent them) only retention is owed.
      outboxWritten: (applied > 0 && viaOutbox) || evaluated?.outboxWritten,
      engage: applied > 0,
      housekeeping: applied > 0,
    });
    return { status: 'ok', applied, duplicates, snapshot: this.store.snapshot(), outbound: handedOver };
  }

  /** Drives a pending merge: the survivor absorbs this profile, then this one becomes a tombstone. */
  private async drive(selfId: string, pending: PendingMerge): Promise<MergeResult> {
    let to = pending.to;
    for (let hop = 0; hop < 16; hop++) {
      let res: AbsorbResult;
      try {
        const head = { ...this.store.exportHead(), engage: this.engage.exportAggregates() };
        const history = exportHistoryPage(this.log, this.engage);
        res = await profileStub(this.env, to).absorb({ ...pending, survivorId: to, loserId: selfId, head, history });
      } catch (err) {
        console.warn('merge interrupted; it stays pending and is retried', err);
        return { status: 'busy', absorbed: true };
      }
      if (res.status === 'ok') {
        try {
          this.sql.transaction(() => {
            this.store.tombstone(to, new Date().toISOString());
            this.engage.mergedAway();
          });
        } catch (err) {
          reloadTables(this.sql); // the rollback brought back tables the tombstone dropped
          throw err;
        }
        this.afterCommit({ engage: true }); // D1 learns that this profile left its audiences
        return { status: 'merged', into: to, snapshot: this.store.snapshot() };
      }
      if (res.status === 'moved') {
        to = res.to;
        continue;
      }
      if (res.status === 'busy' && res.absorbed) return res;
      this.store.setMeta({ pending: null }); // the survivor took nothing: this profile lives on
      return res;
    }
    return { status: 'busy', absorbed: true };
  }

  /**
   * After a transaction that changed this profile: sends what it left (outbox to `delivery`,
   * membership to `work`) without holding up the caller, then arms the one alarm for what is owed.
   */
  private afterCommit(done: Committed): void {
    if (done.flushOutbox)
      this.ctx.waitUntil(this.outbox.flush().catch((err) => console.warn('outbox flush failed', err)));
    if (done.engage)
      this.ctx.waitUntil(this.engage.flush().catch((err) => console.warn('membership flush failed', err)));
    // Nothing changed (an apply of duplicates only): nothing new is owed.
    if (owesAlarm(done)) this.alarmSlot.arm(this.nextAlarm(done));
  }

  /** When the alarm must fire for what `done` left owed (see `nextAlarmAt`). */
  private nextAlarm(done: Committed, now = Date.now()): number {
    const owed = {
      engageAt: this.engage.nextAlarm(now),
      mergePending: Boolean(done.merge && this.store.meta().pending),
      seenMs: retentionFrom(this.env).seenMs,
    };
    return nextAlarmAt(done, owed, now);
  }
}
