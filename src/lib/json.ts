/** A JSON object as it arrives from clients. */
export type JsonObject = Record<string, unknown>;

/** True for plain objects (not arrays, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at a dot path (`a.b.c`) through plain objects; undefined where the path leaves them. */
export function valueAtPath(root: unknown, path: string): unknown {
  let v = root;
  for (const key of path.split('.')) v = isObject(v) ? v[key] : undefined;
  return v;
}

/** UTF-8 byte length of a value once serialised. */
export function jsonBytes(v: unknown): number {
  return new TextEncoder().encode(JSON.stringify(v)).length;
}

/**
 * Sets an own property even when the key is `__proto__`: plain assignment would replace the
 * object's prototype instead (JSON.parse creates such keys as ordinary own properties).
 */
export function setOwn(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Why a parsed JSON value cannot travel through the pipeline. */
export interface JsonDefect {
  code: 'nesting_too_deep' | 'invalid_number';
  /** Top-level field the defect sits under (`properties`, `context`…), or '' for the root. */
  field: string;
  message: string;
}

/**
 * Checks, without recursion, that a parsed JSON value can be serialised, queued and read back:
 * no object or array nested deeper than `maxDepth` (structured clone and JSON.stringify recurse
 * and overflow the stack on deep values), no non-finite number (`1e400` parses as Infinity and
 * would silently become null). Lone UTF-16 surrogates (`"\ud800"`, a truncated emoji) are
 * repaired in place to U+FFFD, as Segment's decoder does: SQLite would otherwise store them as
 * bytes that read back as different text, so an identifier would not match itself.
 * `baseDepth` is the depth the value itself sits at (1 for an event's `context`).
 */
export function checkJson(root: unknown, maxDepth: number, baseDepth = 0): JsonDefect | undefined {
  const stack: { value: unknown; depth: number; field: string }[] = [{ value: root, depth: baseDepth, field: '' }];
  while (stack.length) {
    const { value, depth, field } = stack.pop() as (typeof stack)[number];
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) {
      return { code: 'nesting_too_deep', field, message: `nested deeper than ${maxDepth} levels` };
    }
    const at = (key: string) => (depth === 0 ? key : field);
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (typeof v === 'string') {
          if (!v.isWellFormed()) value[i] = v.toWellFormed();
        } else if (typeof v === 'number') {
          if (!Number.isFinite(v)) return badNumber(field);
        } else if (typeof v === 'object' && v !== null) stack.push({ value: v, depth: depth + 1, field });
      }
      continue;
    }
    const obj = value as JsonObject;
    for (const key of Object.keys(obj)) {
      let k = key;
      if (!key.isWellFormed()) {
        k = key.toWellFormed();
        setOwn(obj, k, obj[key]);
        delete obj[key];
      }
      const v = obj[k];
      if (typeof v === 'string') {
        if (!v.isWellFormed()) obj[k] = v.toWellFormed();
      } else if (typeof v === 'number') {
        if (!Number.isFinite(v)) return badNumber(at(k));
      } else if (typeof v === 'object' && v !== null) stack.push({ value: v, depth: depth + 1, field: at(k) });
    }
  }
  return undefined;
}

function badNumber(field: string): JsonDefect {
  return { code: 'invalid_number', field, message: 'holds a number out of range (not a finite float64)' };
}

/**
 * Deep merge of two parsed JSON objects, `over` winning: where both hold an object at the same
 * path the objects merge, anything else takes `over`'s value. Iterative (inputs may come straight
 * from a client), and subtrees only one side has are shared, not copied, so merging one batch
 * context into 2,500 items does not copy it 2,500 times.
 */
export function deepMerge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  const stack: [JsonObject, JsonObject][] = [[out, over]];
  while (stack.length) {
    const [target, source] = stack.pop() as [JsonObject, JsonObject];
    for (const key of Object.keys(source)) {
      const s = source[key];
      const t = Object.hasOwn(target, key) ? target[key] : undefined;
      if (isObject(s) && isObject(t)) {
        const merged: JsonObject = { ...t };
        setOwn(target, key, merged);
        stack.push([merged, s]);
      } else setOwn(target, key, s);
    }
  }
  return out;
}
