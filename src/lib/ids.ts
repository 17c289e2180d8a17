const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * Lower-case hex of bytes, by table rather than an array of `toString(16)` strings per digest: a
 * webhook signs every event twice (a small share of the signing: most is WebCrypto and its awaits).
 */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (let i = 0; i < view.length; i++) s += HEX[view[i]];
  return s;
}

/** A time-ordered, lexicographically sortable id (ULID layout: 48-bit ms time + 80 random bits). */
export function ulid(now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let rand = '';
  for (const b of bytes) rand += CROCKFORD[b % 32];
  return time + rand;
}

/** A random token with a readable prefix, e.g. `wk_…` for write keys. */
export function randomToken(prefix: string, bytes = 24): string {
  return `${prefix}_${toHex(crypto.getRandomValues(new Uint8Array(bytes)))}`;
}

/** SHA-256 hex digest of a string. */
export async function sha256Hex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input));
  return toHex(digest);
}

/** Compares two strings in time independent of where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
