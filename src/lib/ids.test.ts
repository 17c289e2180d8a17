import { describe, expect, it } from 'vitest';
import { randomToken, sha256Hex, toHex } from './ids';

describe('toHex', () => {
  it('writes every byte as two lower-case digits, as Node does', () => {
    const all = Uint8Array.from({ length: 256 }, (_, b) => b);
    expect(toHex(all)).toBe(Buffer.from(all).toString('hex'));
    const random = crypto.getRandomValues(new Uint8Array(97));
    expect(toHex(random.buffer)).toBe(Buffer.from(random).toString('hex'));
    expect(toHex(new Uint8Array(0))).toBe('');
  });

  it('gives the digests and tokens built on it', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(randomToken('wk', 24)).toMatch(/^wk_[0-9a-f]{48}$/);
  });
});
