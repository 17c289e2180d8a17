import { DurableObject } from 'cloudflare:workers';
import { migrateSqlite } from '../lib/do-schema';
import type { DebugEntry } from './collect';

/** A debugger entry; `writeKey: 'previous'` marks an event sent with a rotated key still in its grace period. */
export type TapEntry = DebugEntry & { writeKey?: 'previous' };

/** How many recent events the debugger keeps per source, as Segment's does. */
export const TAP_SIZE = 100;

/** How long a look at the debugger counts as someone watching it. */
const WATCH_MS = 5 * 60_000;
/** How often an isolate hands its buffered entries to the tap: while watched, and otherwise. */
const WATCHED_FLUSH_MS = 1_000;
const IDLE_FLUSH_MS = 10_000;

/**
 * The source debugger: one object per source keeping its last 100 events with their validation
 * result in a ring of 100 slots (an entry overwrites the oldest: one row written per entry, no
 * trim reading the table). Isolates hand it entries in batches (`liveTap(...).record`).
 */
export class LiveTap extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () =>
      migrateSqlite(ctx.storage.sql, [
        'CREATE TABLE entries (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)',
        'CREATE TABLE slots (slot INTEGER PRIMARY KEY, seq INTEGER NOT NULL, entry TEXT NOT NULL)',
        `INSERT OR IGNORE INTO slots (slot, seq, entry)
           SELECT seq % ${TAP_SIZE}, seq, entry FROM entries ORDER BY seq DESC LIMIT ${TAP_SIZE}`,
        `CREATE TABLE tap_meta (one INTEGER PRIMARY KEY CHECK (one = 1), next_seq INTEGER NOT NULL,
           watched_until INTEGER NOT NULL)`,
        'INSERT INTO tap_meta VALUES (1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM slots), 0)',
        'DROP TABLE entries',
      ]),
    );
  }

  private meta(): { next_seq: number; watched_until: number } {
    return this.ctx.storage.sql
      .exec<{ next_seq: number; watched_until: number }>('SELECT next_seq, watched_until FROM tap_meta')
      .one();
  }

  /** Writes the newest `TAP_SIZE` of `entries` over the oldest slots; answers until when someone watches. */
  record(entries: TapEntry[]): { watchedUntil: number } {
    const sql = this.ctx.storage.sql;
    const m = this.meta();
    const list = entries.slice(-TAP_SIZE);
    if (list.length) {
      sql.exec(
        `INSERT INTO slots (slot, seq, entry)
           SELECT (? + key) % ${TAP_SIZE}, ? + key, value FROM json_each(?) WHERE true
         ON CONFLICT (slot) DO UPDATE SET seq = excluded.seq, entry = excluded.entry`,
        m.next_seq,
        m.next_seq,
        JSON.stringify(list.map((e) => JSON.stringify(e))),
      );
      sql.exec('UPDATE tap_meta SET next_seq = next_seq + ?', list.length);
    }
    return { watchedUntil: m.watched_until };
  }

  /** Newest first. Reading is watching: isolates hand over entries every second for a while. */
  list(limit = TAP_SIZE): TapEntry[] {
    const now = Date.now();
    // Extended at most once a minute, so a console polling every second writes no row per poll.
    if (this.meta().watched_until < now + WATCH_MS - 60_000)
      this.ctx.storage.sql.exec('UPDATE tap_meta SET watched_until = ?', now + WATCH_MS);
    return this.ctx.storage.sql
      .exec<{ entry: string }>('SELECT entry FROM slots ORDER BY seq DESC LIMIT ?', Math.min(limit, TAP_SIZE))
      .toArray()
      .map((r) => JSON.parse(r.entry) as TapEntry);
  }
}

/** Entries of one source waiting in this isolate, and what the tap said last. */
interface Buffer {
  entries: TapEntry[];
  lastFlush: number;
  watchedUntil: number;
  timer?: Promise<void>;
  flushing?: Promise<void>;
}

const buffers = new Map<string, Buffer>();

const stub = (env: Env, sourceId: string) => env.LIVE_TAP.get(env.LIVE_TAP.idFromName(sourceId));

async function flush(env: Env, sourceId: string, b: Buffer): Promise<void> {
  if (b.flushing) await b.flushing;
  if (!b.entries.length) return;
  const entries = b.entries;
  b.entries = [];
  b.lastFlush = Date.now();
  b.flushing = stub(env, sourceId)
    .record(entries)
    .then(
      (r) => {
        b.watchedUntil = r.watchedUntil;
      },
      (err) => console.warn('debugger write failed', err),
    )
    .finally(() => {
      b.flushing = undefined;
    });
  await b.flushing;
}

/**
 * Hands entries to the tap of one source in batches: at once when the last hand-over is older than
 * the interval, else after it (1 s while someone watched the debugger in the last 5 minutes, 10 s
 * otherwise). So the tap costs about one Durable Object request per second per source and
 * isolate, not one per request. While nobody watches, entries wait for the next request or a look.
 */
function record(env: Env, sourceId: string, entries: TapEntry[]): Promise<void> {
  let b = buffers.get(sourceId);
  if (!b) {
    if (buffers.size >= 1000) buffers.clear(); // bounded memory; pending entries of idle sources go
    b = { entries: [], lastFlush: 0, watchedUntil: Number.POSITIVE_INFINITY };
    buffers.set(sourceId, b);
  }
  const buffer = b;
  buffer.entries.push(...entries);
  if (buffer.entries.length > TAP_SIZE) buffer.entries.splice(0, buffer.entries.length - TAP_SIZE);
  const now = Date.now();
  const watched = buffer.watchedUntil > now;
  const due = buffer.lastFlush + (watched ? WATCHED_FLUSH_MS : IDLE_FLUSH_MS);
  if (now >= due) return flush(env, sourceId, buffer);
  if (!watched) return Promise.resolve();
  buffer.timer ??= new Promise<void>((r) => setTimeout(r, due - now)).then(() => {
    buffer.timer = undefined;
    return flush(env, sourceId, buffer);
  });
  return buffer.timer;
}

/** The tap of one source: `record` batches (call it with `waitUntil`), `list` hands over this isolate's entries first. */
export function liveTap(env: Env, sourceId: string) {
  return {
    record: (entries: TapEntry[]) => record(env, sourceId, entries),
    async list(limit = TAP_SIZE): Promise<TapEntry[]> {
      const b = buffers.get(sourceId);
      if (b) await flush(env, sourceId, b);
      return stub(env, sourceId).list(limit);
    },
  };
}
