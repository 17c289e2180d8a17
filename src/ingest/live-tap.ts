import { DurableObject } from 'cloudflare:workers';
import { migrateAndRestore, rewriteFromScratch } from '../lib/do-rewrite';
import { isObject } from '../lib/json';
import { loadPii, maskEvent, sealEntries } from '../privacy/pii-guard';
import type { DebugEntry } from './collect';
import { acceptSubscriber, broadcast, hasMaskedSubscribers } from './live-subscribe';
import { TapBatch } from './tap-batch';

/** A debugger entry; `writeKey: 'previous'` marks an event sent with a rotated key still in its grace period. */
export type TapEntry = DebugEntry & { writeKey?: 'previous' };

/** How many recent events the debugger keeps per source, as Segment's does. */
export const TAP_SIZE = 100;

/** Most characters the kept entries take (SQLite refuses a value over 2 MB); the oldest go first. */
export const TAP_CHARS = 1_000_000;

/** How long an isolate gathers debugger entries before handing them to the source's tap. */
export const TAP_HANDOVER_MS = 500;

export const TAP_SCHEMA = [
  'CREATE TABLE entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)',
  // One row holds the whole ring (a JSON array, oldest first): a handover writes one row, where a
  // row per entry wrote two (the entry and the AUTOINCREMENT sequence) plus the trim's deletes.
  'CREATE TABLE ring (id INTEGER PRIMARY KEY, entries TEXT NOT NULL)',
  `INSERT INTO ring (id, entries) SELECT 1, '[' || coalesce(group_concat(entry, ','), '') || ']'
     FROM (SELECT seq, entry FROM (SELECT seq, entry, row_number() OVER newest AS n, sum(length(entry) + 1) OVER newest AS chars
       FROM entries WINDOW newest AS (ORDER BY seq DESC)) WHERE n <= ${TAP_SIZE} AND chars <= ${TAP_CHARS} ORDER BY seq)`,
  'DROP TABLE entries',
];

/**
 * The source debugger: one object per source keeping its last 100 events with their validation
 * result, and pushing new ones to the console's open live debuggers. Isolates hand entries over
 * in batches (`tapLater`, at most one request per source every TAP_HANDOVER_MS, after the
 * response), so the Tracking API never waits on it and a busy source costs a request and a row
 * per handover, not per request.
 */
export class LiveTap extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(() => migrateAndRestore(ctx, env.ARCHIVE, 'debugger', TAP_SCHEMA, this.insertEntry));
  }

  /** The kept entries as JSON texts, oldest first (read once per object start). */
  private kept: string[] | undefined;

  private ring(): string[] {
    if (!this.kept) {
      const row = this.ctx.storage.sql.exec<{ entries: string }>('SELECT entries FROM ring WHERE id = 1').toArray()[0];
      const list = row ? (JSON.parse(row.entries) as unknown[]) : [];
      this.kept = list.map((e) => JSON.stringify(e));
    }
    return this.kept;
  }

  /** Keeps the newest `TAP_SIZE` entries within `TAP_CHARS`, in one row. */
  private keep(texts: string[]): void {
    const list = texts.slice(-TAP_SIZE);
    let chars = list.reduce((n, t) => n + t.length + 1, 0);
    while (list.length > 1 && chars > TAP_CHARS) chars -= list.shift()!.length + 1;
    this.ctx.storage.sql.exec(
      'INSERT INTO ring (id, entries) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET entries = excluded.entries',
      `[${list.join(',')}]`,
    );
    this.kept = list;
  }

  /** Writes one entry back (a rewrite after a deletion restores entries one by one). */
  private readonly insertEntry = (entry: string) => this.keep([...this.ring(), entry]);

  /** Appends entries (PII trait values sealed, src/privacy), keeps the newest, and pushes them to live subscribers. */
  async record(entries: TapEntry[]): Promise<void> {
    const sealed = await sealEntries(this.env, entries.slice(-TAP_SIZE));
    this.keep([...this.ring(), ...sealed.map((e) => JSON.stringify(e))]);
    await this.publish(entries.slice(-TAP_SIZE));
  }

  /** Pushes recorded entries to the console's open live debuggers (src/ingest/live-subscribe.ts), masked for those without `pii:read`. */
  async publish(entries: TapEntry[]): Promise<void> {
    if (!hasMaskedSubscribers(this.ctx)) return broadcast(this.ctx, entries);
    const { keys } = await loadPii(this.env);
    const masked = entries.map((e) => (isObject(e.event) ? { ...e, event: maskEvent(keys, e.event) } : e));
    broadcast(this.ctx, entries, masked as TapEntry[]);
  }

  /** A console's live debugger subscribes with a WebSocket upgrade (hibernatable). */
  override async fetch(request: Request): Promise<Response> {
    return acceptSubscriber(this.ctx, request);
  }

  override webSocketMessage(): void {
    // Subscribers only listen; what they send is ignored.
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    try {
      ws.close(code === 1005 ? 1000 : code, 'closed');
    } catch {}
  }

  /**
   * Drops the entries that mention any of `needles` (lower-cased JSON strings of a person's ids),
   * then rewrites the tap from scratch (`deleteAll()`), so they leave no trace in free pages.
   */
  async forget(needles: string[]): Promise<number> {
    const rows = this.ring();
    const keep = rows.filter((entry) => {
      const text = entry.toLowerCase();
      return !needles.some((n) => text.includes(n));
    });
    if (keep.length === rows.length) return 0;
    this.kept = [];
    await rewriteFromScratch(this.ctx, this.env.ARCHIVE, 'debugger', TAP_SCHEMA, keep, this.insertEntry);
    return rows.length - keep.length;
  }

  /** Newest first. */
  list(limit = TAP_SIZE): TapEntry[] {
    return this.ring()
      .slice(-Math.min(limit, TAP_SIZE))
      .reverse()
      .map((t) => JSON.parse(t) as TapEntry);
  }
}

/** What this isolate has not handed to the taps yet, per source. */
const waiting = new TapBatch<TapEntry>(TAP_SIZE);

/**
 * Hands a request's debugger entries to its source's tap after the response: gathered in this
 * isolate for TAP_HANDOVER_MS, then one request per source. Entries stay in the isolate no longer
 * than that, so a deletion (`forget`) finds them in the tap; a console's live debugger gets them
 * within about half a second.
 */
export function tapLater(
  env: Env,
  ctx: { waitUntil(p: Promise<unknown>): void },
  sourceId: string,
  entries: TapEntry[],
): void {
  if (!waiting.add(sourceId, entries, Date.now(), TAP_HANDOVER_MS)) return;
  ctx.waitUntil(
    new Promise((r) => setTimeout(r, TAP_HANDOVER_MS)).then(() =>
      Promise.all(
        waiting.take().map(([id, list]) =>
          liveTap(env, id)
            .record(list)
            .catch((err) => console.warn('debugger write failed', err)),
        ),
      ),
    ),
  );
}

/** The tap of one source. */
export function liveTap(env: Env, sourceId: string) {
  return env.LIVE_TAP.get(env.LIVE_TAP.idFromName(sourceId));
}
