import { usage } from './counters';

type Meta = { rows_read?: number; rows_written?: number } | undefined;

/** Adds what one D1 result cost (its `meta`), or a lower bound from the rows it returned. */
function note(stage: string, meta: Meta, returned = 0): void {
  usage.add({ stage, unit: 'd1.queries' });
  usage.add({ stage, unit: 'd1.rows_read' }, meta?.rows_read ?? returned);
  usage.add({ stage, unit: 'd1.rows_written' }, meta?.rows_written ?? 0);
}

/**
 * A prepared statement that counts what it costs. `first()` runs as `all()` so its `meta` is
 * seen; `raw()` has no `meta`, so its rows read are counted as the rows it returned (a lower bound:
 * D1 bills rows read at a thousandth of rows written, so the estimate barely moves).
 */
export class MeteredStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    private readonly stage: string,
  ) {}

  bind(...values: unknown[]): MeteredStatement {
    return new MeteredStatement(this.inner.bind(...values), this.stage);
  }

  async run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    const r = await this.inner.run<T>();
    note(this.stage, r.meta);
    return r;
  }

  async all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    const r = await this.inner.all<T>();
    note(this.stage, r.meta);
    return r;
  }

  async first<T = unknown>(column?: string): Promise<T | null> {
    const r = await this.inner.all<Record<string, unknown>>();
    note(this.stage, r.meta);
    const row = r.results[0];
    if (row === undefined) return null;
    if (column === undefined) return row as T;
    if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
    return row[column] as T;
  }

  async raw<T = unknown[]>(options?: { columnNames?: boolean }): Promise<T[]> {
    const rows = await (options?.columnNames ? this.inner.raw<T>({ columnNames: true }) : this.inner.raw<T>());
    note(this.stage, undefined, Math.max(0, rows.length - (options?.columnNames ? 1 : 0)));
    return rows as T[];
  }
}

/** A D1 binding that counts queries and rows per stage; statements unwrap for `batch()`. */
export class MeteredD1 {
  constructor(
    readonly inner: D1Database,
    private readonly stage: string,
  ) {}

  prepare(query: string): MeteredStatement {
    return new MeteredStatement(this.inner.prepare(query), this.stage);
  }

  async batch<T = unknown>(statements: (D1PreparedStatement | MeteredStatement)[]): Promise<D1Result<T>[]> {
    const plain = statements.map((s) => (s instanceof MeteredStatement ? s.inner : s));
    const results = await this.inner.batch<T>(plain);
    for (const r of results) note(this.stage, r.meta);
    return results;
  }

  async exec(query: string): Promise<D1ExecResult> {
    const r = await this.inner.exec(query);
    usage.add({ stage: this.stage, unit: 'd1.queries' }, r.count);
    return r;
  }

  withSession(constraintOrBookmark?: string) {
    return this.inner.withSession(constraintOrBookmark);
  }

  dump() {
    return this.inner.dump();
  }
}

/** Wraps a D1 binding; typed as the binding so every caller keeps its types. */
export const meterD1 = (d1: D1Database, stage: string): D1Database =>
  d1 instanceof MeteredD1 ? d1 : (new MeteredD1(d1, stage) as unknown as D1Database);
