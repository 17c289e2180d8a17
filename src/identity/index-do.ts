import { DurableObject } from 'cloudflare:workers';
import { migrateAndRestore, rewriteFromScratch } from '../lib/do-rewrite';
import { fnv1a32 } from '../lib/hash';

/**
 * Number of `IdentityIndex` shards. Identifiers are placed by a hash of `kind:value`, so this
 * must never change once data exists (it would need a re-sharding job).
 */
export const INDEX_SHARDS = 16;

/** Largest shard a deletion rewrites in memory (about 100 bytes an entry). */
export const REWRITE_MAX_ENTRIES = 200_000;

type IndexRow = { key: string; profile: string; at: number };

/** One key of a lookup-and-claim: looked up, and claimed for `claimFor` when nobody owns it. */
export interface Want {
  key: string;
  claimFor?: string;
}

/** A key's entry: its owner and when it was claimed; `claimed` when this very call claimed it. */
export interface Entry {
  profile: string;
  at: number;
  claimed?: true;
}

/** A reservation to move to another profile (`to`) or to release (no `to`), if still as claimed. */
export interface Transfer {
  key: string;
  from: string;
  at: number;
  to?: string;
}

const INDEX_SCHEMA = [
  'CREATE TABLE ids (key TEXT PRIMARY KEY, profile TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID',
];

/**
 * Identifier → profile id, one shard of it. Every write is a compare-and-set, so two resolvers
 * racing for one identifier agree on a single owner; entries may point at a merged profile and are
 * followed (and repointed) by the resolver.
 */
export class IdentityIndex extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(() => migrateAndRestore(ctx, env.ARCHIVE, 'identity', INDEX_SCHEMA, this.insertRow));
  }

  /** Writes one entry back (a rewrite after a deletion); an entry already there stays. */
  private readonly insertRow = (r: IndexRow) =>
    this.ctx.storage.sql.exec(
      'INSERT INTO ids (key, profile, at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING',
      r.key,
      r.profile,
      r.at,
    );

  /**
   * Owners of the given keys; keys nobody owns are absent. Key lists travel as one JSON parameter
   * (`json_each`): one statement whatever their length, never near SQLite's 100 bound parameters.
   */
  lookup(keys: string[]): Record<string, string> {
    const out: Record<string, string> = {};
    const rows = this.ctx.storage.sql.exec<{ key: string; profile: string }>(
      'SELECT key, profile FROM ids WHERE key IN (SELECT value FROM json_each(?))',
      JSON.stringify(keys),
    );
    for (const r of rows) out[r.key] = r.profile;
    return out;
  }

  /** Claims each absent key for `profile` (claimIfAbsent); returns every key's owner afterwards. */
  claim(keys: string[], profile: string): Record<string, string> {
    const sql = this.ctx.storage.sql;
    const list = JSON.stringify(keys);
    return this.ctx.storage.transactionSync(() => {
      // `WHERE true` lets SQLite read ON CONFLICT as the upsert clause, not as part of the SELECT.
      sql.exec(
        'INSERT INTO ids (key, profile, at) SELECT value, ?, ? FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING',
        profile,
        Date.now(),
        list,
      );
      return this.lookup(keys);
    });
  }

  /**
   * Lookup and claim in one call (the resolver's, batched per shard over a whole queue batch):
   * every key's entry, after claiming each absent key that names a profile for it. One
   * transaction, so two callers claiming one key agree on its single owner (claimIfAbsent).
   */
  resolve(wants: Want[]): Record<string, Entry> {
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      const out: Record<string, Entry> = {};
      for (const r of sql.exec<IndexRow>(
        'SELECT key, profile, at FROM ids WHERE key IN (SELECT value FROM json_each(?))',
        JSON.stringify(wants.map((w) => w.key)),
      )) {
        out[r.key] = { profile: r.profile, at: r.at };
      }
      const at = Date.now();
      const fresh: [string, string][] = [];
      for (const w of wants) {
        if (w.claimFor === undefined || out[w.key]) continue; // the first want of a key wins
        out[w.key] = { profile: w.claimFor, at, claimed: true };
        fresh.push([w.key, w.claimFor]);
      }
      if (fresh.length) {
        sql.exec(
          "INSERT INTO ids (key, profile, at) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ? FROM json_each(?)",
          at,
          JSON.stringify(fresh),
        );
      }
      return out;
    });
  }

  /**
   * Moves or releases reservations that are still exactly as claimed (owner and stamp: a
   * compare-and-set); returns the keys it changed.
   */
  transfer(moves: Transfer[]): string[] {
    const sql = this.ctx.storage.sql;
    const done: string[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const m of moves) {
        const n =
          m.to === undefined
            ? sql.exec('DELETE FROM ids WHERE key = ? AND profile = ? AND at = ?', m.key, m.from, m.at).rowsWritten
            : sql.exec('UPDATE ids SET profile = ? WHERE key = ? AND profile = ? AND at = ?', m.to, m.key, m.from, m.at)
                .rowsWritten;
        if (n) done.push(m.key);
      }
    });
    return done;
  }

  /** Moves keys from `from` to `to` where they still point at `from` (compare-and-set). */
  repoint(moves: { key: string; from: string; to: string }[]): number {
    const sql = this.ctx.storage.sql;
    let changed = 0;
    this.ctx.storage.transactionSync(() => {
      for (const m of moves) {
        changed += sql.exec(
          'UPDATE ids SET profile = ? WHERE key = ? AND profile = ?',
          m.to,
          m.key,
          m.from,
        ).rowsWritten;
      }
    });
    return changed;
  }

  /** Forgets keys that still point at `profile` (a claim its profile refused). */
  release(keys: string[], profile: string): void {
    const sql = this.ctx.storage.sql;
    sql.exec(
      'DELETE FROM ids WHERE profile = ? AND key IN (SELECT value FROM json_each(?))',
      profile,
      JSON.stringify(keys),
    );
  }

  /**
   * Forgets keys that point at one of `profiles` (a deletion regulation), then rewrites the shard
   * so the deleted entries do not linger in SQLite's free pages: every remaining entry is read,
   * the database dropped with `deleteAll()` and the entries written back (`rewriteFromScratch`,
   * crash-safe). A shard past REWRITE_MAX_ENTRIES is not rewritten (memory): its free pages keep
   * the deleted keys until SQLite reuses them. Returns how many entries went.
   */
  async forget(keys: string[], profiles: string[]): Promise<number> {
    const sql = this.ctx.storage.sql;
    const gone = sql.exec(
      `DELETE FROM ids WHERE key IN (SELECT value FROM json_each(?)) AND profile IN (SELECT value FROM json_each(?))`,
      JSON.stringify(keys),
      JSON.stringify(profiles),
    ).rowsWritten;
    if (!gone) return 0;
    if (sql.exec<{ n: number }>('SELECT count(*) AS n FROM ids').one().n > REWRITE_MAX_ENTRIES) return gone;
    const rest = sql.exec<IndexRow>('SELECT key, profile, at FROM ids').toArray();
    await rewriteFromScratch(this.ctx, this.env.ARCHIVE, 'identity', INDEX_SCHEMA, rest, this.insertRow);
    return gone;
  }

  /** Every entry of this shard (diagnostics and tests). */
  entries(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.ctx.storage.sql.exec<{ key: string; profile: string }>('SELECT key, profile FROM ids')) {
      out[r.key] = r.profile;
    }
    return out;
  }
}

/** The shard of a key: FNV-1a, a stable, cheap spread (never change it: keys live where it put them). */
export function shardOf(key: string): number {
  return fnv1a32(key) % INDEX_SHARDS;
}

/** The stub of one shard. */
export function indexShard(env: Env, shard: number) {
  return env.IDENTITY.get(env.IDENTITY.idFromName(`shard-${shard}`));
}

export function byShard(keys: string[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const key of new Set(keys)) {
    const s = shardOf(key);
    const list = groups.get(s);
    if (list) list.push(key);
    else groups.set(s, [key]);
  }
  return groups;
}

async function perShard<T>(
  env: Env,
  keys: string[],
  call: (stub: ReturnType<typeof indexShard>, keys: string[]) => Promise<Record<string, T>>,
): Promise<Record<string, T>> {
  const parts = await Promise.all([...byShard(keys)].map(([shard, ks]) => call(indexShard(env, shard), ks)));
  return Object.assign({}, ...parts);
}

/** Looks keys up, one call per shard. */
export const lookupKeys = (env: Env, keys: string[]) => perShard(env, keys, (s, ks) => s.lookup(ks));

/**
 * Claims keys for a profile, one call per shard; returns each key's owner. Keys in `reserved` were
 * claimed for it by the resolver's lookup-and-claim moments before (`resolve`): they are its own
 * without another call.
 */
export async function claimKeys(env: Env, keys: string[], profile: string, reserved: string[] = []) {
  const mine = new Set(reserved);
  const rest = keys.filter((k) => !mine.has(k));
  const owners = rest.length ? await perShard(env, rest, (s, ks) => s.claim(ks, profile)) : {};
  for (const k of keys) if (mine.has(k)) owners[k] = profile;
  return owners;
}

/** Releases keys still held by `profile`. */
export async function releaseKeys(env: Env, keys: string[], profile: string): Promise<void> {
  await Promise.all([...byShard(keys)].map(([shard, ks]) => indexShard(env, shard).release(ks, profile)));
}

/** Repoints keys to the profile they were merged into. */
export async function repointKeys(env: Env, moves: { key: string; from: string; to: string }[]): Promise<void> {
  const groups = new Map<number, typeof moves>();
  for (const m of moves) groups.set(shardOf(m.key), [...(groups.get(shardOf(m.key)) ?? []), m]);
  await Promise.all([...groups].map(([shard, ms]) => indexShard(env, shard).repoint(ms)));
}

/** Forgets the keys of deleted profiles, one call per shard; returns how many entries went. */
export async function forgetKeys(env: Env, keys: string[], profiles: string[]): Promise<number> {
  const counts = await Promise.all(
    [...byShard(keys)].map(([shard, ks]) => indexShard(env, shard).forget(ks, profiles)),
  );
  return counts.reduce((a, b) => a + b, 0);
}
