import { describe, expect, it } from 'vitest';
import { normalizeTimestamp } from './timestamp';

describe('normalizeTimestamp', () => {
  it('turns offsets into UTC with Z and milliseconds', () => {
    expect(normalizeTimestamp('2026-06-01T14:00:00+02:00')).toBe('2026-06-01T12:00:00.000Z');
    expect(normalizeTimestamp('2026-06-01T07:30:00-0500')).toBe('2026-06-01T12:30:00.000Z');
    expect(normalizeTimestamp('2026-06-01T12:00:00+05')).toBe('2026-06-01T07:00:00.000Z');
    expect(normalizeTimestamp('2026-06-01T00:30:00+01:00')).toBe('2026-05-31T23:30:00.000Z');
    expect(normalizeTimestamp('2026-06-01T12:00:00.5Z')).toBe('2026-06-01T12:00:00.500Z');
    expect(normalizeTimestamp('2026-06-01T12:00:00.123456789Z')).toBe('2026-06-01T12:00:00.123Z');
    expect(normalizeTimestamp('2026-06-01T12:00:00.000Z')).toBe('2026-06-01T12:00:00.000Z');
  });

  it('reads a date alone as midnight UTC, a time without offset as UTC, a space for T', () => {
    expect(normalizeTimestamp('2012-12-02')).toBe('2012-12-02T00:00:00.000Z');
    expect(normalizeTimestamp('2026-06-01T12:00')).toBe('2026-06-01T12:00:00.000Z');
    expect(normalizeTimestamp('2026-06-01 12:00:01')).toBe('2026-06-01T12:00:01.000Z');
    expect(normalizeTimestamp('0050-01-01')).toBe('0050-01-01T00:00:00.000Z');
  });

  it('still accepts what Date.parse understands (RFC 2822), normalised', () => {
    expect(normalizeTimestamp('Mon, 01 Jun 2026 12:00:00 GMT')).toBe('2026-06-01T12:00:00.000Z');
  });

  it('refuses what is not a date', () => {
    for (const v of [
      'yesterday-ish',
      '',
      '2026-13-01',
      '2026-02-30',
      '2025-02-29',
      '2026-06-01T25:00:00Z',
      '2026-06-01T12:00:00+25:00',
      '275760-09-14',
    ])
      expect(normalizeTimestamp(v), v).toBeUndefined();
    expect(normalizeTimestamp('2024-02-29')).toBe('2024-02-29T00:00:00.000Z');
  });
});
