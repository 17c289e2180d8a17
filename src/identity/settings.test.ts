import { describe, expect, it } from 'vitest';
import { compareRank, compileRules, defaultSettings, IdentitySettings, limitSpec } from './settings';

describe('identity settings', () => {
  const rules = compileRules(defaultSettings());

  it('defaults as Segment: user_id 1 then email 2, the rest alphabetical; user_id limit 1, others 5', () => {
    const s = defaultSettings();
    expect(s.identifiers.user_id).toEqual({ priority: 1, limit: 1 });
    expect(s.identifiers.email).toEqual({ priority: 2, limit: 5 });
    expect(s.identifiers['android.id'].priority).toBe(3);
    expect(s.identifiers['ios.id'].limit).toBe(5);
    expect(s.identifiers.anonymous_id.limit).toBe(50);
    expect(limitSpec(rules).windows).toEqual({});
    const weekly = {
      ...s,
      identifiers: { ...s.identifiers, anonymous_id: { ...s.identifiers.anonymous_id, limit: 5, window: 'weekly' } },
    };
    expect(limitSpec(compileRules(IdentitySettings.parse(weekly))).windows).toEqual({ anonymous_id: 7 * 86_400_000 });
    expect(
      IdentitySettings.safeParse({ ...s, identifiers: { x: { priority: 1, limit: 1, window: 'hourly' } } }).success,
    ).toBe(false);
    expect(IdentitySettings.parse(s)).toEqual(s);
    expect(limitSpec(rules).limits.user_id).toBe(1);
    expect(rules.limitOf('some_custom_kind')).toBe(5);
  });

  it('ranks configured kinds by priority, unknown kinds after them alphabetically', () => {
    const kinds = ['zeta_id', 'anonymous_id', 'email', 'alpha_id', 'user_id'];
    expect([...kinds].sort((a, b) => compareRank(rules, a, b))).toEqual([
      'user_id',
      'email',
      'anonymous_id',
      'alpha_id',
      'zeta_id',
    ]);
  });

  it('blocks the default values, case-insensitively and after trimming, and zeroes-and-dashes', () => {
    for (const v of [
      'null',
      'NULL',
      ' undefined ',
      '0',
      '-1',
      'Anonymous',
      '[object Object]',
      '',
      '0000',
      '--',
      '00000000-0000',
    ]) {
      expect(rules.isBlocked(v), v).toBe(true);
    }
    for (const v of ['abc', '-1x', '10', 'null-user']) expect(rules.isBlocked(v), v).toBe(false);
  });

  it('rejects invalid settings with a reason', () => {
    const bad = (patch: Record<string, unknown>) => {
      const r = IdentitySettings.safeParse({ ...defaultSettings(), ...patch });
      expect(r.success).toBe(false);
      return r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    };
    expect(bad({ identifiers: { user_id: { priority: 1, limit: 1 }, email: { priority: 1, limit: 5 } } })).toContain(
      'priority 1 is already used by user_id',
    );
    expect(bad({ identifiers: { user_id: { priority: 1, limit: 0 } } })).toContain('identifiers.user_id.limit');
    expect(bad({ identifiers: { 'bad kind': { priority: 1, limit: 1 } } })).toContain('identifier kinds are');
    expect(bad({ blockedPatterns: ['(unclosed'] })).toContain('must be a valid regular expression');
    expect(bad({ blockedValues: 'null' })).toContain('blockedValues');
  });
});
