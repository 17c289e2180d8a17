import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { servableAudienceKeys } from './graph';
import { signPersonalizeToken, verifyPersonalizeToken } from './personalize-token';

describe('personalize tokens', () => {
  const secret = 'ps_test_secret';
  const now = 1_800_000_000;

  it('match the documented format, so a backend can mint them with any HMAC library', async () => {
    const token = await signPersonalizeToken(secret, 'user-1', now + 60);
    const sig = createHmac('sha256', secret)
      .update(`v1.${now + 60}.user-1`)
      .digest('base64url');
    expect(token).toBe(`v1.${now + 60}.${sig}`);
    expect(await verifyPersonalizeToken(secret, 'user-1', token, now)).toEqual({ ok: true });
  });

  it('open one user only, until they expire, within a week', async () => {
    const token = await signPersonalizeToken(secret, 'user-1', now + 60);
    expect(await verifyPersonalizeToken(secret, 'user-2', token, now)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verifyPersonalizeToken('ps_other', 'user-1', token, now)).toMatchObject({ reason: 'bad_signature' });
    expect(await verifyPersonalizeToken(secret, 'user-1', token, now + 60)).toMatchObject({ reason: 'expired' });
    const long = await signPersonalizeToken(secret, 'user-1', now + 7 * 86_400 + 1);
    expect(await verifyPersonalizeToken(secret, 'user-1', long, now)).toMatchObject({ reason: 'too_long' });
    for (const bad of [
      '',
      'v1',
      'v2.1.x',
      `v1.${now}.`,
      `v1.-1.${token.split('.')[2]}`,
      `v1.${now + 60}.${'A'.repeat(10)}`,
    ]) {
      expect(await verifyPersonalizeToken(secret, 'user-1', bad, now)).toMatchObject({ reason: 'malformed' });
    }
  });
});

describe('servableAudienceKeys', () => {
  const a = (key: string, definition: unknown, pub = true) => ({ key, public: pub, definition }) as never;
  it('serves an audience only if it and everything it uses, transitively, is public', () => {
    const audiences = [
      a('base', { computed: 'public_ct', op: '>', value: 1 }),
      a('on_base', { and: [{ audience: 'base' }, { trait: 'plan', op: '=', value: 'pro' }] }),
      a('private', { event: 'X' }, false),
      a('on_private', { not: { audience: 'private' } }),
      a('on_private_ct', { or: [{ event: 'Y' }, { computed: 'private_ct', op: '>', value: 1 }] }),
      a('deep', { audience: 'on_private' }),
      a('dangling', { audience: 'nope' }),
    ];
    expect([...servableAudienceKeys(audiences, new Set(['public_ct']))].sort()).toEqual(['base', 'on_base']);
  });
});
