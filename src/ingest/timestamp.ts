/**
 * ISO-8601 as clients send it: a date, optionally a time (`T` or a space), fractions of a
 * second of any length, and an offset `Z`, `±HH:MM`, `±HHMM` or `±HH`.
 */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** The instants `Date` can represent (±100,000,000 days around 1970). */
const MAX_MS = 8.64e15;

/**
 * Normalises a client timestamp to UTC ISO-8601 with `Z` and milliseconds, as Segment stores
 * them: `2026-06-01T14:00:00+02:00` → `2026-06-01T12:00:00.000Z`; a date alone is midnight UTC;
 * a time without offset is taken as UTC. Other formats `Date.parse` understands (RFC 2822, which
 * some clients send) are still accepted. Undefined when the value is not a date.
 */
export function normalizeTimestamp(value: string): string | undefined {
  const v = value.trim();
  const m = ISO.exec(v);
  let ms: number;
  if (m) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', offset = 'Z'] = m;
    const [month, day, hour, minute, second] = [Number(mo), Number(d), Number(h), Number(mi), Number(s)];
    if (month < 1 || month > 12 || day < 1 || day > daysIn(Number(y), month)) return undefined;
    if (hour > 24 || minute > 59 || second > 60 || (hour === 24 && (minute || second || Number(frac))))
      return undefined;
    // Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear keeps them as written.
    const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, Math.min(second, 59)));
    date.setUTCFullYear(Number(y));
    ms = date.getTime() + Math.floor(Number(`0.${frac || '0'}`) * 1000) - offsetMinutes(offset) * 60_000;
  } else {
    ms = Date.parse(v);
  }
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_MS) return undefined;
  return new Date(ms).toISOString();
}

function offsetMinutes(offset: string): number {
  if (offset === 'Z' || offset === 'z') return 0;
  const sign = offset[0] === '-' ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2) || '0');
  if (hours > 23 || minutes > 59) return Number.NaN;
  return sign * (hours * 60 + minutes);
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS[month - 1];
}
