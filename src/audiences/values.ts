export { equal } from '../lib/fql/evaluate';

/** A stable identity for a JSON value: equal values (of the same type) get the same key. */
export function valueKey(v: unknown): string {
  return JSON.stringify(v ?? null) ?? 'null';
}
