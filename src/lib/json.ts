/** A JSON object as it arrives from clients. */
export type JsonObject = Record<string, unknown>;

/** True for plain objects (not arrays, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** UTF-8 byte length of a value once serialised. */
export function jsonBytes(v: unknown): number {
  return new TextEncoder().encode(JSON.stringify(v)).length;
}
