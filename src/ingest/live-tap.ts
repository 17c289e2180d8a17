import { DurableObject } from 'cloudflare:workers';
import { migrateSqlite } from '../lib/do-schema';
import { sealEntries } from '../privacy/pii-guard';
import type { DebugEntry } from './collect';

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

  /** Appends entries (PII trait values sealed, src/privacy) and trims to the newest `TAP_SIZE`. */
  async record(entries: TapEntry[]): Promise<void> {
    const sealed = await sealEntries(this.env, entries.slice(-TAP_SIZE));
    const sql = this.ctx.storage.sql;
    for (const e of sealed) sql.exec('INSERT INTO entries (entry) VALUES (?)', JSON.stringify(e));
    sql.exec('DELETE FROM entries WHERE seq <= (SELECT seq FROM entries ORDER BY seq DESC LIMIT 1 OFFSET ?)', TAP_SIZE);
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
