/**
 * The usage meter's per-isolate counters. Every seam (D1, queue, Durable Object stub, R2, fetch)
 * adds to them in memory; `flush.ts` writes them to D1 in one statement (one row per hour) at
 * most every `USAGE_FLUSH_SECONDS`, so metering never costs a write per event.
 */

/** The billable units Tessera counts (Cloudflare's billing dimensions). */
export const UNITS = [
  'events',
  'worker.invocations',
  'do.requests',
  'do.rows_read',
  'do.rows_written',
  'd1.queries',
  'd1.rows_read',
  'd1.rows_written',
  'queue.messages',
  'queue.ops',
  'r2.class_a',
  'r2.class_b',
  'outbound.requests',
] as const;
export type Unit = (typeof UNITS)[number];

/** One counter: what caused it (stage), the source when known ('*' otherwise), the unit and its detail. */
export interface UsageKey {
  stage: string;
  unit: Unit;
  /** Entry point, Durable Object class, queue name or R2 bucket; '' when the unit has none. */
  detail?: string;
  source?: string;
}

export interface UsageRow {
  hour: number;
  stage: string;
  source: string;
  unit: Unit;
  detail: string;
  n: number;
}

const SEP = '\u0000';

/** Counters of one isolate, keyed by hour, stage, source, unit and detail. */
export class UsageCounters {
  private counts = new Map<string, number>();

  add(k: UsageKey, n = 1, now = Date.now()): void {
    if (!n) return;
    const key = [Math.floor(now / 3_600_000), k.stage, k.source ?? '*', k.unit, k.detail ?? ''].join(SEP);
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  get size(): number {
    return this.counts.size;
  }

  /** Takes every counter out (to write them); `restore` puts them back if the write fails. */
  drain(): UsageRow[] {
    const rows = [...this.counts].map(([key, n]) => {
      const [hour, stage, source, unit, detail] = key.split(SEP);
      return { hour: Number(hour), stage, source, unit: unit as Unit, detail, n };
    });
    this.counts = new Map();
    return rows;
  }

  restore(rows: readonly UsageRow[]): void {
    for (const r of rows) {
      this.add({ stage: r.stage, source: r.source, unit: r.unit, detail: r.detail }, r.n, r.hour * 3_600_000);
    }
  }
}

/** The isolate's meter: module state, shared by the Worker and the Durable Objects it hosts. */
export const usage = new UsageCounters();

/** Queue and R2 operations are billed per started 64 KB. */
export const opsOf = (bytes: number) => Math.max(1, Math.ceil(bytes / 65_536));
