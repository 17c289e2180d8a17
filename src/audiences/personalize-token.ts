/**
 * Personalization tokens: proof that a caller of `/v1/personalize?userId=…` is that user. The
 * customer's backend, which knows who is logged in, mints one with the source's personalize
 * secret and hands it to the page:
 *
 *   token = "v1." + exp + "." + base64url(HMAC-SHA256(secret, "v1." + exp + "." + userId))
 *
 * where `exp` is the expiry in Unix seconds. The signature covers the version, the expiry and the
 * exact userId, so a token opens one user's values only, and only until it expires.
 */
export const TOKEN_VERSION = 'v1';
/** The furthest ahead a token may expire: a leaked token must not open a profile for long. */
export const MAX_TOKEN_LIFETIME_S = 7 * 86_400;

export type TokenCheck = { ok: true } | { ok: false; reason: 'malformed' | 'expired' | 'too_long' | 'bad_signature' };

const enc = new TextEncoder();

function key(secret: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

function toBase64Url(bytes: ArrayBuffer): string {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

const message = (exp: number, userId: string) => enc.encode(`${TOKEN_VERSION}.${exp}.${userId}`);

/** Mints a token for `userId` valid until `expiresAt` (Unix seconds), as a customer's backend would. */
export async function signPersonalizeToken(secret: string, userId: string, expiresAt: number): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await key(secret, 'sign'), message(expiresAt, userId));
  return `${TOKEN_VERSION}.${expiresAt}.${toBase64Url(sig)}`;
}

/** Checks a token for `userId` at `nowS` (Unix seconds); the signature comparison is constant-time (WebCrypto verify). */
export async function verifyPersonalizeToken(
  secret: string,
  userId: string,
  token: string,
  nowS = Math.floor(Date.now() / 1000),
): Promise<TokenCheck> {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_VERSION || !/^\d{1,12}$/.test(parts[1])) {
    return { ok: false, reason: 'malformed' };
  }
  const exp = Number(parts[1]);
  const sig = fromBase64Url(parts[2]);
  if (sig?.length !== 32) return { ok: false, reason: 'malformed' };
  const valid = await crypto.subtle.verify('HMAC', await key(secret, 'verify'), sig, message(exp, userId));
  if (!valid) return { ok: false, reason: 'bad_signature' };
  if (exp <= nowS) return { ok: false, reason: 'expired' };
  if (exp > nowS + MAX_TOKEN_LIFETIME_S) return { ok: false, reason: 'too_long' };
  return { ok: true };
}
