/**
 * Durable Object storage is versioned: each entry of `steps` is one migration, applied once per
 * object in order and recorded in `_schema`. Call it from the constructor inside
 * `blockConcurrencyWhile`, so no request ever sees a half-migrated object.
 */
export function migrateSqlite(sql: SqlStorage, steps: string[]): void {
  sql.exec('CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)');
  const row = sql.exec<{ version: number }>('SELECT version FROM _schema').toArray()[0];
  let version = row?.version ?? 0;
  if (!row) sql.exec('INSERT INTO _schema (version) VALUES (0)');
  while (version < steps.length) {
    sql.exec(steps[version]);
    version++;
    sql.exec('UPDATE _schema SET version = ?', version);
  }
}
