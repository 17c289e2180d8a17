import { migrateSqlite } from './do-schema';

/**
 * Rewriting a Durable Object's database from scratch: the only way to leave nothing of deleted rows
 * in SQLite's free pages and WAL, since `PRAGMA secure_delete` and `VACUUM` are refused. Between
 * `deleteAll()` and the rows written back the object holds nothing, so the kept rows are parked in
 * R2 first; an object that starts on an empty database restores them (`restoreRewrite`).
 */

const parkedKey = (kind: string, ctx: DurableObjectState) => `_tessera/rewrite/${kind}/${ctx.id.toString()}.json`;

/** Drops the whole database and writes `rows` back with `insert` (which must ignore duplicates). */
export async function rewriteFromScratch<R>(
  ctx: DurableObjectState,
  parking: R2Bucket,
  kind: string,
  schema: string[],
  rows: R[],
  insert: (row: R) => void,
): Promise<void> {
  const key = parkedKey(kind, ctx);
  await parking.put(key, JSON.stringify(rows));
  await ctx.storage.deleteAll();
  migrateSqlite(ctx.storage.sql, schema);
  ctx.storage.transactionSync(() => {
    for (const r of rows) insert(r);
  });
  await parking.delete(key);
}

/**
 * Migrates the schema (call it in `blockConcurrencyWhile` instead of `migrateSqlite`) and, when the
 * database was empty, brings back rows a rewrite parked and did not get to write back. One R2 read
 * per object that starts empty (new or rewritten midway), none otherwise.
 */
export async function migrateAndRestore<R>(
  ctx: DurableObjectState,
  parking: R2Bucket,
  kind: string,
  schema: string[],
  insert: (row: R) => void,
): Promise<void> {
  const sql = ctx.storage.sql;
  const empty = sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = '_schema'").one().n === 0;
  migrateSqlite(sql, schema);
  if (!empty) return;
  const parked = await parking.get(parkedKey(kind, ctx));
  if (!parked) return;
  const rows = (await parked.json()) as R[];
  ctx.storage.transactionSync(() => {
    for (const r of rows) insert(r);
  });
  await parking.delete(parkedKey(kind, ctx));
}
