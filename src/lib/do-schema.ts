/**
 * The latest layout, for an object that has none yet, run instead of every step (a test must hold
 * the two equal, as test/profile-schema.test.ts does for the Profile). `versionAt`, when given, is
 * a one-row table and column the script creates, the column with `DEFAULT <steps.length>`: an
 * object born with it keeps its version there instead of in a `_schema` table of its own, whose
 * creation and row cost 3 billed rows per new object. The script may leave the table empty (the
 * object's first write inserts the row, billed once rather than inserted here and then updated):
 * until then the column's DEFAULT is the version.
 */
export interface FreshLayout {
  script: string;
  versionAt?: { table: string; column: string };
}

/**
 * Durable Object storage is versioned: each entry of `steps` is one migration, applied once per
 * object in order and recorded in `_schema` (or, for an object born with a `fresh` layout that
 * names `versionAt`, in that column). Call it from the constructor inside
 * `blockConcurrencyWhile`, so no request ever sees a half-migrated object.
 */
export function migrateSqlite(sql: SqlStorage, steps: string[], fresh?: string | FreshLayout): void {
  const layout = typeof fresh === 'string' ? { script: fresh } : fresh;
  const at = layout?.versionAt;
  const present = new Set(
    sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN ('_schema', ?)",
        at?.table ?? '_schema',
      )
      .toArray()
      .map((r) => r.name),
  );
  if (at && !present.has('_schema') && present.has(at.table)) {
    // Born with the fresh layout: its version is in its own row, or, while the row is not written
    // yet, the column's DEFAULT (the version it was born at).
    const row = sql.exec<{ v: number | null }>(`SELECT ${at.column} AS v FROM ${at.table}`).toArray()[0];
    let version = row ? (row.v ?? 0) : bornAt(sql, at);
    // A step's UPDATE needs the row: written now, with the defaults it would have been born with.
    if (!row && version < steps.length) sql.exec(`INSERT INTO ${at.table} DEFAULT VALUES`);
    while (version < steps.length) {
      execScript(sql, steps[version]);
      version++;
      sql.exec(`UPDATE ${at.table} SET ${at.column} = ?`, version);
    }
    return;
  }
  if (!present.has('_schema') && layout) {
    // A new object: the latest layout in one go, without replaying (and paying the rows of)
    // every table an older step created and a later one rebuilt.
    execScript(sql, layout.script);
    if (at) return;
    sql.exec('CREATE TABLE _schema (version INTEGER NOT NULL)');
    sql.exec('INSERT INTO _schema (version) VALUES (?)', steps.length);
    return;
  }
  if (!present.has('_schema')) {
    sql.exec('CREATE TABLE _schema (version INTEGER NOT NULL)');
    sql.exec('INSERT INTO _schema (version) VALUES (0)');
  }
  let version = sql.exec<{ version: number }>('SELECT version FROM _schema').one().version;
  while (version < steps.length) {
    execScript(sql, steps[version]);
    version++;
    sql.exec('UPDATE _schema SET version = ?', version);
  }
}

/** The version of a fresh-born object whose `versionAt` row is not written yet: the column's DEFAULT. */
function bornAt(sql: SqlStorage, at: { table: string; column: string }): number {
  const d = sql
    .exec<{ d: string | null }>('SELECT dflt_value AS d FROM pragma_table_info(?) WHERE name = ?', at.table, at.column)
    .toArray()[0]?.d;
  const version = Number(d);
  // Without it the version is unknown: replaying every step on the latest layout would break it.
  if (d == null || !Number.isInteger(version))
    throw new Error(`${at.table} has no row and ${at.column} no integer DEFAULT: its schema version is unknown`);
  return version;
}

/**
 * The statements of a script, split at semicolons outside quotes (schemas hold no triggers). A
 * cursor reports the rows of its last statement only, so a script run in one `exec` hid most of
 * the rows it wrote from the usage meter; one `exec` per statement shows them all.
 */
export function statementsOf(script: string): string[] {
  const out: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ';') {
      out.push(script.slice(start, i));
      start = i + 1;
    }
  }
  out.push(script.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}

/** Runs a script statement by statement (see `statementsOf`). */
export function execScript(sql: Pick<SqlStorage, 'exec'>, script: string): void {
  for (const statement of statementsOf(script)) sql.exec(statement);
}
