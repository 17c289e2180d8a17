import { toHex } from '../../lib/ids';

// Imported HMAC keys by algorithm and secret: a webhook sends two signatures per request, and
// importing the key each time was a third of the signing cost (`node scripts/profile.mjs --workload load`).
const keys = new Map<string, CryptoKey>();
const MAX_KEYS = 1_000;

async function hmacKey(algorithm: 'SHA-1' | 'SHA-256', secret: string): Promise<CryptoKey> {
  const id = `${algorithm}\u0000${secret}`;
  const hit = keys.get(id);
  if (hit) return hit;
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: algorithm },
    false,
    ['sign'],
  );
  if (keys.size >= MAX_KEYS) keys.clear();
  keys.set(id, key);
  return key;
}

/** Hex digest of an HMAC over `message` with `secret` (WebCrypto, works in Workers and Node). */
export async function hmacHex(algorithm: 'SHA-1' | 'SHA-256', secret: string, message: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(algorithm, secret), new TextEncoder().encode(message));
  return toHex(mac);
}

/**
 * The two signature headers of a webhook body. `X-Signature` is Segment's: hex HMAC-SHA1 of the
 * body with the shared secret, so existing Segment receivers keep working. `X-Tessera-Signature`
 * adds a timestamp against replays: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 */
export async function signatureHeaders(secret: string, body: string, now: Date): Promise<Record<string, string>> {
  const t = Math.floor(now.getTime() / 1000);
  return {
    'x-signature': await hmacHex('SHA-1', secret, body),
    'x-tessera-signature': `t=${t},v1=${await hmacHex('SHA-256', secret, `${t}.${body}`)}`,
  };
}
