import { DurableObject } from 'cloudflare:workers';
import { migrateSqlite } from '../lib/do-schema';
import type { DebugEntry } from './collect';
import { acceptSubscriber, broadcast } from './live-subscribe';

/** A debugger entry; `writeKey: 'previous'` marks an event sent with a rotated key still in its grace period. */
export type TapEntry = DebugEntry & { writeKey?: 'previous' };

/** How many recent events the debugger keeps per source, as Segment's does. */
export const TAP_SIZE = 100;

/**
 * The source debugger: one object per source keeping its last 100 events with their validation
 * result. Written after the response (waitUntil), so it never slows the Tracking API.
 */
export class LiveTap extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () =>
      migrateSqlite(ctx.storage.sql, [
        'CREATE TABLE entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)',
      ]),
    );
  }

  /** Appends entries and trims to the newest `TAP_SIZE`. */
  record(entries: TapEntry[]): void {
    const sql = this.ctx.storage.sql;
    for (const e of entries.slice(-TAP_SIZE)) sql.exec('INSERT INTO entries (entry) VALUES (?)', JSON.stringify(e));
    sql.exec('DELETE FROM entries WHERE seq <= (SELECT seq FROM entries ORDER BY seq DESC LIMIT 1 OFFSET ?)', TAP_SIZE);
    this.publish(entries.slice(-TAP_SIZE));
  }

  /** Pushes recorded entries to the console's open live debuggers (src/ingest/live-subscribe.ts). */
  publish(entries: TapEntry[]): void {
    broadcast(this.ctx, entries);
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
