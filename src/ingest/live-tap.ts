import { DurableObject } from 'cloudflare:workers';
import { migrateAndRestore, rewriteFromScratch } from '../lib/do-rewrite';
import { isObject } from '../lib/json';
import { loadPii, maskEvent, sealEntries } from '../privacy/pii-guard';
import type { DebugEntry } from './collect';
import { acceptSubscriber, broadcast, hasMaskedSubscribers } from './live-subscribe';

/** A debugger entry; `writeKey: 'previous'` marks an event sent with a rotated key still in its grace period. */
export type TapEntry = DebugEntry & { writeKey?: 'previous' };

/** How many recent events the debugger keeps per source, as Segment's does. */
export const TAP_SIZE = 100;

const TAP_SCHEMA = ['CREATE TABLE entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)'];

/**
 * The source debugger: one object per source keeping its last 100 events with their validation
 * result. Written after the response (waitUntil), so it never slows the Tracking API.
 */
export class LiveTap extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(() => migrateAndRestore(ctx, env.ARCHIVE, 'debugger', TAP_SCHEMA, this.insertEntry));
  }

  private readonly insertEntry = (entry: string) =>
    this.ctx.storage.sql.exec('INSERT INTO entries (entry) VALUES (?)', entry);

  /** Appends entries (PII trait values sealed, src/privacy) and trims to the newest `TAP_SIZE`. */
  async record(entries: TapEntry[]): Promise<void> {
    const sealed = await sealEntries(this.env, entries.slice(-TAP_SIZE));
    const sql = this.ctx.storage.sql;
    for (const e of sealed) this.insertEntry(JSON.stringify(e));
    sql.exec('DELETE FROM entries WHERE seq <= (SELECT seq FROM entries ORDER BY seq DESC LIMIT 1 OFFSET ?)', TAP_SIZE);
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
    const sql = this.ctx.storage.sql;
    const rows = sql.exec<{ entry: string }>('SELECT entry FROM entries ORDER BY seq').toArray();
    const keep = rows.filter((r) => {
      const text = r.entry.toLowerCase();
      return !needles.some((n) => text.includes(n));
    });
    if (keep.length === rows.length) return 0;
    const entries = keep.map((r) => r.entry);
    await rewriteFromScratch(this.ctx, this.env.ARCHIVE, 'debugger', TAP_SCHEMA, entries, this.insertEntry);
    return rows.length - keep.length;
  }

  /** Newest first. */
  list(limit = TAP_SIZE): TapEntry[] {
    return this.ctx.storage.sql
      .exec<{ entry: string }>('SELECT entry FROM entries ORDER BY seq DESC LIMIT ?', Math.min(limit, TAP_SIZE))
      .toArray()
      .map((r) => JSON.parse(r.entry) as TapEntry);
  }
}

/** The tap of one source. */
export function liveTap(env: Env, sourceId: string) {
  return env.LIVE_TAP.get(env.LIVE_TAP.idFromName(sourceId));
}
