/**
 * Field-level encryption of PII (AES-256-GCM, Web Crypto) and the blind index that keeps lookups
 * by email working (HMAC-SHA-256). Pure: keys come in as a `PiiKeyring`, nothing is read here.
 *
 * A sealed value is `pii1.<kid>.<base64url(iv ‖ ciphertext)>` of the value's JSON text, so a value
 * of any type seals into one string and any reader can tell it apart. `kid` names the key that
 * sealed it, so old values still open after the current key rotates.
 */

import { toHex } from '../lib/ids';

/** Marks a sealed value; also the format version. */
export const SEALED_PREFIX = 'pii1.';
/** Marks a blind-indexed identifier value (`email:bi1.…`). */
export const BLIND_PREFIX = 'bi1.';

export interface PiiKeyring {
  /** Id of the key new values are sealed with. */
  kid: string;
  /** Every key that may open a value, by id (the current one included). */
  keys: Map<string, CryptoKey>;
  /** HMAC key of the blind index. It does not rotate with `kid`: every index entry depends on it. */
  index: CryptoKey;
}

export interface PiiSecrets {
  /** The current key: any string, at least 16 characters (`openssl rand -base64 32`). */
  PII_KEY?: string;
  /** Earlier keys, comma-separated: values they sealed still open. */
  PII_KEY_PREVIOUS?: string;
  /** Key of the blind index; defaults to `PII_KEY` (so set it to the first key before rotating). */
  PII_INDEX_KEY?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function unb64url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

async function derive(secret: string, info: string, usage: 'aes' | 'hmac'): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', enc.encode(secret), 'HKDF', false, ['deriveKey']);
  const params = { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: enc.encode(info) };
  return usage === 'aes'
    ? crypto.subtle.deriveKey(params, base, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
    : crypto.subtle.deriveKey(params, base, { name: 'HMAC', hash: 'SHA-256', length: 256 }, false, ['sign']);
}

/** A key's id: 8 hex characters of a hash of it, so ids need no configuration and never collide in practice. */
export async function keyId(secret: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(`tessera-pii-kid:${secret}`)));
  return toHex(digest.slice(0, 4));
}

/** The keyring of the secrets, or null when `PII_KEY` is unset (PII is then stored as sent). */
export async function keyringFrom(secrets: PiiSecrets): Promise<PiiKeyring | null> {
  const current = secrets.PII_KEY?.trim();
  if (!current) return null;
  if (current.length < 16) throw new Error('PII_KEY must be at least 16 characters');
  const previous = (secrets.PII_KEY_PREVIOUS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const keys = new Map<string, CryptoKey>();
  for (const secret of [current, ...previous])
    keys.set(await keyId(secret), await derive(secret, 'tessera pii aes-gcm', 'aes'));
  const index = await derive(secrets.PII_INDEX_KEY?.trim() || current, 'tessera pii blind index', 'hmac');
  return { kid: await keyId(current), keys, index };
}

export const isSealed = (v: unknown): v is string => typeof v === 'string' && v.startsWith(SEALED_PREFIX);
export const isBlind = (v: string): boolean => v.startsWith(BLIND_PREFIX);

/** Seals a JSON value (already sealed values are returned as they are). */
export async function seal(ring: PiiKeyring, value: unknown): Promise<string> {
  if (isSealed(value)) return value;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = ring.keys.get(ring.kid) as CryptoKey;
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, enc.encode(JSON.stringify(value ?? null))),
  );
  const out = new Uint8Array(iv.length + ct.length);
  out.set(iv);
  out.set(ct, iv.length);
  return `${SEALED_PREFIX}${ring.kid}.${b64url(out)}`;
}

/** Opens a sealed value. Throws when its key is not in the ring or it was tampered with. */
export async function open(ring: PiiKeyring, sealed: string): Promise<unknown> {
  const [, kid, body] = sealed.split('.');
  const key = kid ? ring.keys.get(kid) : undefined;
  if (!key || !body) throw new Error(`PII value sealed with unknown key ${kid ?? '?'}`);
  const bytes = unb64url(body);
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.slice(0, 12) }, key, bytes.slice(12));
  return JSON.parse(dec.decode(plain));
}

/** The blind index of an identifier value: equal values give equal indexes, and nothing else can be read from it. */
export async function blindValue(ring: PiiKeyring, kind: string, value: string): Promise<string> {
  const mac = await crypto.subtle.sign('HMAC', ring.index, enc.encode(`${kind}\u0000${value}`));
  return BLIND_PREFIX + b64url(new Uint8Array(mac));
}

/**
 * The equality tag of a PII trait value: an HMAC (blind-index key) of the trait's key and its value,
 * strings trimmed and lower-cased, so `Jane@X.io ` and `jane@x.io` give one tag. Audience
 * conditions compare tags (`=`, `!=`, `in`), and deletion finds a sealed email by its tag.
 */
export async function equalityTag(ring: PiiKeyring, key: string, value: unknown): Promise<string> {
  const canon = JSON.stringify(typeof value === 'string' ? value.trim().toLowerCase() : (value ?? null));
  const mac = await crypto.subtle.sign('HMAC', ring.index, enc.encode(`pii-eq\u0000${key}\u0000${canon}`));
  return TAG_PREFIX + b64url(new Uint8Array(mac)).slice(0, 32);
}

/** Marks the equality tag appended to a sealed trait value (`pii1.<kid>.<body>.t<tag>`). */
export const TAG_PREFIX = 't';

/** The equality tag of a sealed value, or null (values sealed without one: secrets, older traits). */
export function tagOf(value: unknown): string | null {
  if (!isSealed(value)) return null;
  const tag = value.split('.')[3];
  return tag?.startsWith(TAG_PREFIX) ? tag : null;
}

/**
 * Seals the value of PII trait `key` with its equality tag appended: `open` reads only the first
 * three parts, so a tagged value opens like any other.
 */
export async function sealTrait(ring: PiiKeyring, key: string, value: unknown): Promise<string> {
  if (isSealed(value)) return value;
  return `${await seal(ring, value)}.${await equalityTag(ring, key, value)}`;
}

/** A copy of `obj` with the values of PII keys sealed, tagged (null and absent values stay as they are). */
export async function sealFields(
  ring: PiiKeyring,
  obj: Record<string, unknown>,
  piiKeys: ReadonlySet<string>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...obj };
  for (const [k, v] of Object.entries(obj)) {
    if (piiKeys.has(k) && v !== null && v !== undefined && !isSealed(v)) out[k] = await sealTrait(ring, k, v);
  }
  return out;
}

/** A copy of a JSON value with every sealed string opened (depth-bounded; unknown keys leave the value sealed). */
export async function openDeep(ring: PiiKeyring | null, value: unknown, depth = 0): Promise<unknown> {
  if (isSealed(value)) {
    if (!ring) return value;
    try {
      return await open(ring, value);
    } catch (err) {
      console.warn('PII value could not be opened', String(err));
      return value;
    }
  }
  if (depth > 32 || !value || typeof value !== 'object') return value;
  if (Array.isArray(value)) return Promise.all(value.map((v) => openDeep(ring, v, depth + 1)));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = await openDeep(ring, v, depth + 1);
  return out;
}

/** Does a JSON value contain a sealed string anywhere (cheap pre-check before `openDeep`)? */
export const hasSealed = (value: unknown): boolean => JSON.stringify(value ?? null).includes(`"${SEALED_PREFIX}`);

/** How PII is shown to a token without `pii:read`: `j***@example.com`, `***67`, `J***`. */
export function maskValue(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (isSealed(value)) return '***';
  if (typeof value === 'string') {
    const at = value.indexOf('@');
    if (at > 0) return `${value[0]}***${value.slice(at)}`;
    const digits = value.replace(/\D/g, '');
    if (digits.length >= 6 && digits.length >= value.replace(/[\s().+-]/g, '').length) return `***${digits.slice(-2)}`;
    return value.length ? `${value[0]}***` : value;
  }
  return '***';
}

/** A copy of `obj` with the values of PII keys masked. */
export function maskFields(obj: Record<string, unknown>, piiKeys: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...obj };
  for (const k of Object.keys(obj)) if (piiKeys.has(k)) out[k] = maskValue(obj[k]);
  return out;
}
