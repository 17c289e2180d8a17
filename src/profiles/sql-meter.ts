/** The part of `SqlStorage` the Profile object's stores use. */
export type Sql = Pick<SqlStorage, 'exec'>;

/** What one unit of work cost in SQLite (Cloudflare bills rows read and written) and in parsed JSON. */
export interface WorkCost {
  rowsRead: number;
  rowsWritten: number;
  /** SQL statements run: each is a call into SQLite (and, locally, a traced span). */
  statements: number;
  /** Bytes of stored event JSON parsed (the memory an evaluation can cost). */
  parsedBytes: number;
  ms: number;
}

/**
 * `SqlStorage` that sums the rows read and written by the queries of a measured run (the cursors'
 * own counters), so the Profile object can report what an apply cost and tests can hold it to a budget.
 */
export class SqlMeter implements Sql {
  private cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] | undefined;
  private parsed = 0;
  /** Statements run since the object started, measured or not (tests hold a whole call to a budget). */
  executed = 0;

  /** `storage`: the object's SQLite, whose lazy tables (tables.ts) this meter shares. */
  constructor(readonly storage: SqlStorage) {}

  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
    const cursor = this.storage.exec<T>(query, ...bindings);
    this.executed++;
    this.cursors?.push(cursor as unknown as SqlStorageCursor<Record<string, SqlStorageValue>>);
    return cursor;
  }

  /** Counts bytes of JSON parsed during the run. */
  noteParsed(bytes: number): void {
    this.parsed += bytes;
  }

  /** Runs `fn`, measuring its queries. Not reentrant: a nested run is counted in the outer one. */
  measure<R>(fn: () => R): { result: R; cost: WorkCost } {
    if (this.cursors)
      return { result: fn(), cost: { rowsRead: 0, rowsWritten: 0, statements: 0, parsedBytes: 0, ms: 0 } };
    this.cursors = [];
    this.parsed = 0;
    const start = performance.now();
    try {
      const result = fn();
      let rowsRead = 0;
      let rowsWritten = 0;
      for (const c of this.cursors) {
        rowsRead += c.rowsRead;
        rowsWritten += c.rowsWritten;
      }
      const statements = this.cursors.length;
      return {
        result,
        cost: { rowsRead, rowsWritten, statements, parsedBytes: this.parsed, ms: performance.now() - start },
      };
    } finally {
      this.cursors = undefined;
    }
  }
}
