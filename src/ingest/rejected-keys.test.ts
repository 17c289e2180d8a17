import { describe, expect, it } from 'vitest';
import type { RejectedWriteKeyRow, SourceRow } from '../db/schema';
import { addPending, keyPrefix, summarizeRejected } from './rejected-keys';
import { judgeWriteKey } from './sources';

const source = (patch: Partial<SourceRow> = {}): SourceRow => ({
  id: 'src1',
  name: 'S',
  writeKey: 'wk_current',
  enabled: true,
  createdAt: '',
  updatedAt: '',
  previousWriteKey: 'wk_previous',
  previousKeyExpiresAt: '2030-01-01T00:00:00.000Z',
  personalizeSecret: null,
  personalizeSecretCreatedAt: null,
  ...patch,
});

describe('judgeWriteKey', () => {
  const before = Date.parse('2029-12-31T23:59:59.000Z');
  const after = Date.parse('2030-01-01T00:00:00.000Z');
  it('accepts the current key, and the previous one only before it expires', () => {
    expect(judgeWriteKey(source(), 'wk_current', after)).toMatchObject({ key: 'current' });
    expect(judgeWriteKey(source(), 'wk_previous', before)).toMatchObject({ key: 'previous' });
    expect(judgeWriteKey(source(), 'wk_previous', after)).toEqual({
      source: null,
      reason: 'retired',
      sourceId: 'src1',
    });
    expect(judgeWriteKey(source({ previousKeyExpiresAt: null }), 'wk_previous', before)).toMatchObject({
      reason: 'retired',
    });
  });
  it('refuses every key of a disabled source, and keys nobody holds', () => {
    expect(judgeWriteKey(source({ enabled: false }), 'wk_current', before)).toMatchObject({ reason: 'disabled' });
    expect(judgeWriteKey(source({ enabled: false }), 'wk_previous', before)).toMatchObject({ reason: 'disabled' });
    expect(judgeWriteKey(null, 'wk_x', before)).toEqual({ source: null, reason: 'unknown' });
  });
});

describe('rejected key counting', () => {
  it('shows at most 8 characters and at most half of a key', () => {
    expect(keyPrefix('wk_0123456789abcdef')).toBe('wk_01234…');
    expect(keyPrefix('abcd')).toBe('ab…');
    expect(keyPrefix('a')).toBe('…');
  });

  it('sums a window per key and day, and folds keys beyond the cap into one row', () => {
    const into = new Map<string, RejectedWriteKeyRow>();
    const at = (iso: string) => new Date(iso);
    const r = { writeKey: 'wk_aaaaaaaa', reason: 'unknown' as const, events: 3, userAgent: 'ua1' };
    addPending(into, 'h1', { ...r, at: at('2026-01-01T10:00:00Z') }, 2);
    addPending(into, 'h1', { ...r, events: 2, userAgent: 'ua2', at: at('2026-01-01T11:00:00Z') }, 2);
    addPending(into, 'h1', { ...r, at: at('2026-01-02T00:00:01Z') }, 2); // a new day: its own row, the cap is reached
    addPending(into, 'h2', { ...r, writeKey: 'wk_bbbbbbbb', at: at('2026-01-02T00:00:02Z') }, 2);
    addPending(into, 'h3', { ...r, writeKey: 'wk_cccccccc', at: at('2026-01-02T00:00:03Z') }, 2);
    const rows = [...into.values()];
    expect(rows.map((x) => [x.keyHash, x.day, x.events, x.requests])).toEqual([
      ['h1', '2026-01-01', 5, 2],
      ['h1', '2026-01-02', 3, 1],
      ['overflow', '2026-01-02', 6, 2],
    ]);
    expect(rows[0]).toMatchObject({
      firstSeen: '2026-01-01T10:00:00.000Z',
      lastSeen: '2026-01-01T11:00:00.000Z',
      lastUserAgent: 'ua2',
    });
    expect(rows[2]).toMatchObject({ keyPrefix: '(other keys)', sourceId: null });

    const summary = summarizeRejected(rows);
    expect(summary[0]).toMatchObject({ keyPrefix: '(other keys)', events: 6 });
    expect(summary[1]).toMatchObject({
      keyPrefix: 'wk_aa…',
      events: 8,
      requests: 3,
      firstSeen: '2026-01-01T10:00:00.000Z',
      lastSeen: '2026-01-02T00:00:01.000Z',
      days: [
        { day: '2026-01-01', events: 5, requests: 2 },
        { day: '2026-01-02', events: 3, requests: 1 },
      ],
    });
  });
});
