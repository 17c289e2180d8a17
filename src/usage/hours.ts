import type { Unit, UsageRow } from './counters';
import type { UsageSum } from './report';

/**
 * The stored form of the meter's counters (pure): one row per hour in D1 (`usage_hours`, migration
 * 0019) whose `counts` is a JSON object of counter key → n. A key is the JSON array
 * [stage, source, unit, detail]: unambiguous whatever the strings hold, and exactly what the
 * migration's `json_array` built from the old per-counter rows, so old and new counts share keys.
 */
export const counterKey = (r: Pick<UsageRow, 'stage' | 'source' | 'unit' | 'detail'>): string =>
  JSON.stringify([r.stage, r.source, r.unit, r.detail]);

/** A flush's counters as the upsert binds them: `{ "<hour>": { "<counter key>": n } }`. */
export function countsByHour(rows: readonly UsageRow[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    out[String(r.hour)] ??= {};
    const hour = out[String(r.hour)];
    const key = counterKey(r);
    hour[key] = (hour[key] ?? 0) + r.n;
  }
  return out;
}

/** Counter keys summed over a range back into stage, source, unit and detail; a key that does not decode is left out. */
export function sumsFromKeys(rows: readonly { key: string; n: number }[]): UsageSum[] {
  const out: UsageSum[] = [];
  for (const { key, n } of rows) {
    let parts: unknown;
    try {
      parts = JSON.parse(key);
    } catch {
      continue;
    }
    if (!Array.isArray(parts) || parts.length !== 4 || !parts.every((p) => typeof p === 'string')) continue;
    const [stage, source, unit, detail] = parts as [string, string, Unit, string];
    out.push({ stage, source, unit, detail, n: Number(n) });
  }
  return out;
}
