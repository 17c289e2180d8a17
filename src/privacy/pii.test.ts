import { describe, expect, it } from 'vitest';
import { applySealedOp, sealedLiteral } from '../audiences/ops';
import {
  blindValue,
  keyringFrom,
  maskFields,
  maskValue,
  open,
  openDeep,
  seal,
  sealFields,
  sealTrait,
  tagOf,
} from './pii';

const ring = async (s: Parameters<typeof keyringFrom>[0]) => {
  const r = await keyringFrom(s);
  if (!r) throw new Error('no keyring');
  return r;
};
const K1 = 'first-key-0123456789';
const K2 = 'second-key-0123456789';

describe('PII sealing', () => {
  it('seals any JSON value into a string that opens to it, with a fresh IV each time', async () => {
    const r = await ring({ PII_KEY: K1 });
    for (const v of ['jane@example.com', 42, { street: 'Main 1' }, ['a'], null]) {
      const s = await seal(r, v);
      expect(s).toMatch(/^pii1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$/);
      expect(await open(r, s)).toEqual(v);
    }
    expect(await seal(r, 'x')).not.toBe(await seal(r, 'x'));
    const once = await seal(r, 'x');
    expect(await seal(r, once)).toBe(once); // sealing is idempotent
  });

  it('rotates: the new key seals, a previous key still opens, a dropped key does not', async () => {
    const old = await ring({ PII_KEY: K1 });
    const sealedOld = await seal(old, 'jane@example.com');
    const rotated = await ring({ PII_KEY: K2, PII_KEY_PREVIOUS: K1 });
    expect(rotated.kid).not.toBe(old.kid);
    expect((await seal(rotated, 'v')).split('.')[1]).toBe(rotated.kid);
    expect(await open(rotated, sealedOld)).toBe('jane@example.com');
    await expect(open(await ring({ PII_KEY: K2 }), sealedOld)).rejects.toThrow(/unknown key/);
  });

  it('refuses a tampered value', async () => {
    const r = await ring({ PII_KEY: K1 });
    const s = await seal(r, 'jane@example.com');
    const flipped = s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
    await expect(open(r, flipped)).rejects.toThrow();
  });

  it('is off without PII_KEY and refuses a short key', async () => {
    expect(await keyringFrom({})).toBeNull();
    await expect(keyringFrom({ PII_KEY: 'short' })).rejects.toThrow(/16/);
  });

  it('blind index: equal for equal values, differs by kind; stable across rotation with PII_INDEX_KEY', async () => {
    const a = await ring({ PII_KEY: K1 });
    expect(await blindValue(a, 'email', 'j@x.io')).toBe(await blindValue(a, 'email', 'j@x.io'));
    expect(await blindValue(a, 'email', 'j@x.io')).not.toBe(await blindValue(a, 'phone', 'j@x.io'));
    expect(await blindValue(a, 'email', 'j@x.io')).toMatch(/^bi1\.[A-Za-z0-9_-]{43}$/);
    const b = await ring({ PII_KEY: K2, PII_KEY_PREVIOUS: K1, PII_INDEX_KEY: K1 });
    expect(await blindValue(b, 'email', 'j@x.io')).toBe(await blindValue(a, 'email', 'j@x.io'));
  });

  it('seals and opens only PII keys of an object; openDeep leaves an unknown key sealed', async () => {
    const r = await ring({ PII_KEY: K1 });
    const sealed = await sealFields(r, { email: 'j@x.io', plan: 'pro', phone: null }, new Set(['email', 'phone']));
    expect(sealed.plan).toBe('pro');
    expect(sealed.phone).toBeNull();
    expect(String(sealed.email)).toMatch(/^pii1\./);
    expect(await openDeep(r, { traits: sealed, list: [sealed.email] })).toEqual({
      traits: { email: 'j@x.io', plan: 'pro', phone: null },
      list: ['j@x.io'],
    });
    expect(await openDeep(await ring({ PII_KEY: K2 }), sealed.email)).toBe(sealed.email);
  });

  it('tags a sealed trait for equality: same normalised value and key, same tag; it still opens', async () => {
    const r = await ring({ PII_KEY: K1 });
    const a = await sealTrait(r, 'email', 'Jane@X.io ');
    const b = await sealTrait(r, 'email', 'jane@x.io');
    expect(a).not.toBe(b); // fresh IVs
    expect(tagOf(a)).toBe(tagOf(b));
    expect(tagOf(a)).not.toBe(tagOf(await sealTrait(r, 'phone', 'jane@x.io')));
    expect(tagOf(a)).not.toBe(tagOf(await sealTrait(r, 'email', 'joe@x.io')));
    expect(tagOf(await sealTrait(r, 'n', 5))).not.toBe(tagOf(await sealTrait(r, 'n', '5')));
    expect(tagOf(await seal(r, 'jane@x.io'))).toBeNull();
    expect(await open(r, a)).toBe('Jane@X.io ');
    expect(applySealedOp('=', b, sealedLiteral('=', a))).toBe(true);
    expect(applySealedOp('!=', b, sealedLiteral('!=', a))).toBe(false);
    expect(applySealedOp('!=', null, sealedLiteral('!=', a))).toBe(true);
    expect(applySealedOp('in', b, sealedLiteral('in', [await sealTrait(r, 'email', 'x@y.z'), a]))).toBe(true);
    expect(applySealedOp('=', 'jane@x.io', sealedLiteral('=', a))).toBe(false); // clear values never match a tag
    expect(sealedLiteral('=', 'jane@x.io')).toBeNull(); // a clear literal compiles as before
  });
});

describe('PII masking', () => {
  it('masks emails, phones and other values', () => {
    expect(maskValue('jane@example.com')).toBe('j***@example.com');
    expect(maskValue('+1 (555) 010-0199')).toBe('***99');
    expect(maskValue('Jane Doe')).toBe('J***');
    expect(maskValue({ street: 'Main' })).toBe('***');
    expect(maskValue('pii1.abcd1234.xyz')).toBe('***');
    expect(maskValue(null)).toBeNull();
    expect(maskFields({ email: 'a@b.c', plan: 'pro' }, new Set(['email']))).toEqual({ email: 'a***@b.c', plan: 'pro' });
  });
});
