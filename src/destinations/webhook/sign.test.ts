import { describe, expect, it } from 'vitest';
import { hmacHex, signatureHeaders } from './sign';

describe('hmacHex', () => {
  it('gives the published test vectors (RFC 2202 for HMAC-SHA1, RFC 4231 for HMAC-SHA256)', () => {
    const data = 'what do ya want for nothing?';
    expect(hmacHex('SHA-1', 'Jefe', data)).toBe('effcdf6ae5eb2fa2d27416d5f184df9c259a7c79');
    expect(hmacHex('SHA-256', 'Jefe', data)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('signs a body in UTF-8, and differently per secret', () => {
    // RFC 4231's key and data as UTF-8 text with a non-ASCII character differ from the ASCII ones.
    expect(hmacHex('SHA-1', 'Jefe', 'é')).not.toBe(hmacHex('SHA-1', 'Jefe', 'e'));
    expect(hmacHex('SHA-256', 'whsec_a', 'body')).not.toBe(hmacHex('SHA-256', 'whsec_b', 'body'));
  });
});

describe('signatureHeaders', () => {
  it("signs the body (Segment's X-Signature) and the timestamp with it (X-Tessera-Signature)", () => {
    const body = '{"type":"track"}';
    const h = signatureHeaders('whsec_a', body, new Date('2026-12-04T00:00:00.000Z'));
    const t = Date.parse('2026-12-04T00:00:00.000Z') / 1000;
    expect(h['x-signature']).toBe(hmacHex('SHA-1', 'whsec_a', body));
    expect(h['x-tessera-signature']).toBe(`t=${t},v1=${hmacHex('SHA-256', 'whsec_a', `${t}.${body}`)}`);
  });
});
