import { UNITS, type Unit } from './counters';

/**
 * Cloudflare list prices in US dollars per unit (Workers Paid, December 2026), beyond the included
 * amounts, which the estimate ignores: it prices usage at the margin. Overridable per deployment
 * with the `USAGE_PRICES` var, a JSON object of unit → dollars per million (e.g. for a contract).
 */
export const LIST_PRICES_PER_MILLION: Record<Unit, number> = {
  events: 0,
  'worker.invocations': 0.3,
  'do.requests': 0.15,
  'do.rows_read': 0.001,
  'do.rows_written': 1.0,
  'd1.queries': 0,
  'd1.rows_read': 0.001,
  'd1.rows_written': 1.0,
  'queue.messages': 0,
  'queue.ops': 0.4,
  'r2.class_a': 4.5,
  'r2.class_b': 0.36,
  'outbound.requests': 0,
};

/** The price table in force: the list prices with the override's valid entries on top. */
export function pricesFrom(override: string | undefined): Record<Unit, number> {
  const prices = { ...LIST_PRICES_PER_MILLION };
  if (!override) return prices;
  try {
    const parsed: unknown = JSON.parse(override);
    if (parsed && typeof parsed === 'object') {
      for (const [unit, value] of Object.entries(parsed)) {
        if (
          (UNITS as readonly string[]).includes(unit) &&
          typeof value === 'number' &&
          value >= 0 &&
          Number.isFinite(value)
        )
          prices[unit as Unit] = value;
      }
    }
  } catch {
    console.warn('USAGE_PRICES is not JSON; using list prices');
  }
  return prices;
}
