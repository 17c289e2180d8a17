import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacHex } from './sign';

describe('hmacHex', () => {
  it('matches Node’s HMAC for each algorithm and secret, also when the imported key is reused', async () => {
    const cases = [
      ['SHA-1', 'whsec_a', 'body one'],
      ['SHA-256', 'whsec_a', 'body one'],
      ['SHA-1', 'whsec_b', 'body one'],
      ['SHA-256', 'whsec_b', 'body two'],
    ] as const;
    for (let round = 0; round < 2; round++) {
      for (const [alg, secret, message] of cases) {
        const expected = createHmac(alg === 'SHA-1' ? 'sha1' : 'sha256', secret)
          .update(message)
          .digest('hex');
        expect(await hmacHex(alg, secret, message)).toBe(expected);
      }
    }
  });
});
