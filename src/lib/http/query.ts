import { type ApiError, badRequest } from '../errors';

/** The accepted range of an integer query parameter and its value when absent. */
export interface IntRange {
  fallback: number;
  min: number;
  max: number;
}

/**
 * An integer query parameter (`limit`, `days`, `hours`…), one rule for every route: absent or
 * empty gives `fallback`; anything but an integer from `min` to `max` is a 400 naming the range.
 * Never clamped silently, so a caller learns that the page size it asked for was not honoured.
 */
export function queryInt(
  raw: string | undefined,
  name: string,
  range: IntRange,
  invalid: (message: string) => ApiError = badRequest,
): number {
  if (raw === undefined || raw.trim() === '') return range.fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw invalid(`\`${name}\` must be an integer from ${range.min} to ${range.max}`);
  }
  return n;
}
