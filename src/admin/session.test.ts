import { describe, expect, it } from 'vitest';
import { csrfFor, isChange, SESSION_COOKIE, sessionCookie, sessionToken } from './session';

describe('console session cookie', () => {
  it('round-trips a token through Set-Cookie and Cookie, among other cookies', () => {
    const token = 'tsr_a=b;c d';
    const set = sessionCookie(token);
    expect(set).toContain('HttpOnly; Secure; SameSite=Strict');
    const pair = set.split(';')[0];
    expect(sessionToken(`x=1; ${pair}; y=2`)).toBe(token);
    expect(sessionToken('x=1')).toBeUndefined();
    expect(sessionToken(`${SESSION_COOKIE}=%E0%A4%A`)).toBeUndefined();
    expect(sessionCookie(null)).toContain('Max-Age=0');
  });

  it('derives a CSRF token per API token, without revealing it', async () => {
    const a = await csrfFor('token-a');
    expect(a).toBe(await csrfFor('token-a'));
    expect(a).not.toBe(await csrfFor('token-b'));
    expect(a).not.toContain('token-a');
    expect([isChange('GET'), isChange('post'), isChange('DELETE')]).toEqual([false, true, true]);
  });
});
