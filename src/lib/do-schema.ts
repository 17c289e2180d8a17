/**
 * Durable Object storage is versioned: each entry of `steps` is one migration, applied once per
 * object in order and recorded in `_schema`. Call it from the constructor inside
 * `blockConcurrencyWhile`, so no request ever sees a half-migrated object. `fresh`, when given,
 * is the layout all the steps result in, run instead of them by an object that has none yet (a
 * test must hold the two equal, as test/profile-schema.test.ts does for the Profile).
 */
export function migrateSqlite(sql: SqlStorage, steps: string[], fresh?: string): void {
  sql.exec('CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)');
  const row = sql.exec<{ version: number }>('SELECT version FROM _schema').toArray()[0];
  if (!row && fresh !== undefined) {
    // A new object: the latest layout in one go, without replaying (and paying the rows of)
    // every table an older step created and a later one rebuilt.
    execScript(sql, fresh);
    sql.exec('INSERT INTO _schema (version) VALUES (?)', steps.length);
    return;
  }
  let version = row?.version ?? 0;
  if (!row) sql.exec('INSERT INTO _schema (version) VALUES (0)');
  while (version < steps.length) {
    execScript(sql, steps[version]);
    version++;
    sql.exec('UPDATE _schema SET version = ?', version);
  }
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
