/**
 * Deleting a row in SQLite does not erase its bytes: the cell stays in the page's free space, and
 * older page versions stay in the write-ahead log until SQLite checkpoints and reuses it. D1 and
 * Durable Object SQLite refuse `PRAGMA secure_delete` and `VACUUM` (SQLITE_AUTH), so Tessera
 * scrubs with what it may do: overwrite each row where it lies before deleting it, then write
 * filler through the WAL and the free pages and delete the filler again. Durable Objects do not
 * need this: they are erased with `deleteAll()`, which drops the whole database file.
 */

/** An expression of `column`'s byte length in `x`: a same-size record, rewritten in place. */
const filler = (column: string) =>
  `CASE WHEN ${column} IS NULL THEN NULL ELSE printf('%.*c', length(CAST(${column} AS BLOB)), 'x') END`;

/**
 * Statements that overwrite `columns` of the matching rows with same-length filler, then delete
 * them, in one batch. `where` may not depend on the overwritten columns (use rowids then).
 */
export function scrubbedDelete(
  d1: D1Database,
  table: string,
  columns: string[],
  where: string,
  binds: unknown[],
): D1PreparedStatement[] {
  const set = columns.map((c) => `${c} = ${filler(c)}`).join(', ');
  return [
    // A table without person text (ids only) has nothing to overwrite: a no-op keeps the pairs.
    set ? d1.prepare(`UPDATE ${table} SET ${set} WHERE ${where}`).bind(...binds) : d1.prepare('SELECT 0'),
    d1.prepare(`DELETE FROM ${table} WHERE ${where}`).bind(...binds),
  ];
}

/** Rowids of the rows `where` matches, as one JSON parameter for `scrubbedDelete`. */
export async function rowidsOf(d1: D1Database, table: string, where: string, binds: unknown[]): Promise<string> {
  const rows = await d1
    .prepare(`SELECT rowid AS r FROM ${table} WHERE ${where}`)
    .bind(...binds)
    .all<{ r: number }>();
  return JSON.stringify(rows.results.map((x) => x.r));
}

export const BY_ROWID = 'rowid IN (SELECT value FROM json_each(?))';

/** Filler per round: 8 rows of 1 MB (D1 caps a value at 2 MB), about 2,000 pages. */
const FILL_ROWS = 8;
const FILL_BYTES = 1_000_000;

/**
 * Two rounds of filler written and deleted: the first pushes the WAL past SQLite's 1,000-page
 * checkpoint and fills free pages with zeros (overflow pages are written whole); after the
 * checkpoint the next write restarts the WAL at its first frame, and the second round overwrites
 * the frames that held the deleted rows. About 16 MB written per deletion run.
 */
export async function scrubFreeSpace(d1: D1Database): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await d1
      .prepare(
        `WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)
         INSERT INTO privacy_scrub (fill) SELECT zeroblob(?) FROM k`,
      )
      .bind(FILL_ROWS, FILL_BYTES)
      .run();
    await d1.prepare('DELETE FROM privacy_scrub').run();
  }
}
