const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const WINDOW = /^([1-9][0-9]{0,5})(m|h|d|w)$/;
const MAX_WINDOW_MS = 3650 * UNIT_MS.d;

/** Parses a window like "30d", "12h", "15m" or "2w" into milliseconds; null when malformed or over 10 years. */
export function parseWindow(window: string): number | null {
  const m = WINDOW.exec(window);
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms <= MAX_WINDOW_MS ? ms : null;
}

/** Milliseconds since the epoch for an event timestamp (ISO string or epoch ms); null when unreadable. */
export function toMillis(ts: unknown): number | null {
  if (typeof ts === 'number') return Number.isFinite(ts) ? ts : null;
  if (typeof ts !== 'string') return null;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) ? null : ms;
}
