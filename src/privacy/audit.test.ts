import { describe, expect, it } from 'vitest';
import { declaredSecrets, maskPiiLiterals, maskSecrets } from './audit';

const types: Record<string, string[]> = { webhook: ['sharedSecret', 'headers'] };
const secretsOf = (t: string) => types[t];

describe('audit masking', () => {
  it('finds the secrets a destination type or a function declaration names', () => {
    const found = declaredSecrets(
      [
        { type: 'webhook', settings: {} },
        {
          settings: [
            { name: 'shopPin', secret: true },
            { name: 'region', secret: false },
          ],
        },
        null,
        'text',
      ],
      secretsOf,
    );
    expect([...found].sort()).toEqual(['headers', 'sharedSecret', 'shopPin']);
  });

  it('masks declared keys inside settings whatever their value, and secret-looking names anywhere', () => {
    const declared = new Set(['headers', 'shopPin', 'name']);
    expect(
      maskSecrets(
        {
          name: 'kept: not inside settings',
          settings: { headers: { 'X-Shop': 'abc' }, shopPin: 1234, region: 'eu', apiKey: 'k-0123456789abcdef' },
          token: 'short',
        },
        declared,
      ),
    ).toEqual({
      name: 'kept: not inside settings',
      settings: { headers: '****', shopPin: '****', region: 'eu', apiKey: '****cdef' },
      token: '****',
    });
    expect(maskSecrets({ settings: { shopPin: 'x' } })).toEqual({ settings: { shopPin: 'x' } }); // by name only
  });

  it('masks PII literals of audience conditions and PII keys of sample traits', () => {
    const keys = new Set(['email']);
    expect(
      maskPiiLiterals(
        {
          definition: {
            and: [
              { trait: 'email', op: '=', value: 'j@x.io' },
              { trait: 'plan', op: '=', value: 'pro' },
            ],
          },
          profiles: [{ traits: { email: 'j@x.io', plan: 'pro' } }],
          email: 'not in traits: kept',
        },
        keys,
      ),
    ).toEqual({
      definition: {
        and: [
          { trait: 'email', op: '=', value: '****' },
          { trait: 'plan', op: '=', value: 'pro' },
        ],
      },
      profiles: [{ traits: { email: '****', plan: 'pro' } }],
      email: 'not in traits: kept',
    });
  });
});
