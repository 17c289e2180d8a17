/**
 * The part of `SqlStorage` the Profile object's stores use; `memo` where reads may be kept
 * between writes (`SqlMeter.memo`).
 */
export type Sql = Pick<SqlStorage, 'exec'> & { memo?<T>(key: string, read: () => T): T };

/**
 * Whether a statement may write: every one but a SELECT (or a CTE's) naming no writing keyword.
 * A false alarm (`replace()` in a SELECT) only costs a read again.
 */
const mayWrite = (query: string) =>
  !/^\s*(SELECT|WITH)\b/i.test(query) || /\b(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|PRAGMA)\b/i.test(query);

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
  /** Moves on every statement that may write and every rolled-back transaction: a memo of an older one is stale. */
  private generation = 0;
  private readonly memos = new Map<string, { generation: number; value: unknown }>();

  /**
   * `storage`: the object's SQLite, whose lazy tables (tables.ts) this meter shares; `transact`:
   * its `transactionSync`, which `transaction` runs (without, `transaction` refuses).
   */
  constructor(
    readonly storage: SqlStorage,
    private readonly transact?: <T>(fn: () => T) => T,
  ) {}

  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]): SqlStorageCursor<T> {
    if (mayWrite(query)) this.generation++;
    const cursor = this.storage.exec<T>(query, ...bindings);
    this.executed++;
    this.cursors?.push(cursor as unknown as SqlStorageCursor<Record<string, SqlStorageValue>>);
    return cursor;
  }

  /**
   * What `read` answered, kept until a statement that may write runs through this meter (or a
   * transaction rolls back). The object is single-threaded and its stores all use this meter, so a
   * kept read is what SQLite would answer: the meta row, read by most steps of an apply, was 9 % of
   * the pipeline's CPU read each time (`node scripts/profile.mjs --workload known`). The value is
   * shared: callers must not change it.
   */
  memo<T>(key: string, read: () => T): T {
    const kept = this.memos.get(key);
    if (kept && kept.generation === this.generation) return kept.value as T;
    const value = read();
    this.memos.set(key, { generation: this.generation, value });
    return value;
  }

  /** Forgets every memo: for a change made around this meter (`deleteAll`, a migration). */
  forget(): void {
    this.generation++;
  }

  /**
   * `transactionSync`, forgetting the memos when it throws: its writes are rolled back, so what
   * was read after them no longer holds. Nested, it is a savepoint, forgotten the same way.
   */
  transaction<T>(fn: () => T): T {
    if (!this.transact) throw new Error('SqlMeter: no transactionSync given');
    try {
      return this.transact(fn);
    } catch (err) {
      this.generation++;
      throw err;
    }
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
