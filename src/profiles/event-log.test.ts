import { describe, expect, it } from 'vitest';
import { RETENTION, retentionFrom } from './event-log';

describe('retentionFrom', () => {
  it('reads the PROFILE_EVENT_RETENTION_* vars, keeping the default for unset or invalid values', () => {
    expect(retentionFrom({})).toEqual(RETENTION);
    expect(retentionFrom({ PROFILE_EVENT_RETENTION_DAYS: '365', PROFILE_EVENT_RETENTION_COUNT: '50000' })).toEqual({
      ...RETENTION,
      maxAgeMs: 365 * 86_400_000,
      maxEvents: 50_000,
    });
    expect(retentionFrom({ PROFILE_EVENT_RETENTION_DAYS: 'forever', PROFILE_EVENT_RETENTION_COUNT: '0' })).toEqual(
      RETENTION,
    );
  });
});
