import { Hono } from 'hono';
import { ApiError } from '../lib/errors';
import { isObject, type JsonObject } from '../lib/json';
import type { AcceptFn } from './accept';
import { EVENT_TYPES, type EventType } from './spec';

/** A transparent 1×1 GIF, the answer every pixel gets. */
const GIF = Uint8Array.from(atob('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'), (ch) => ch.charCodeAt(0));

/**
 * Reads the pixel's `data` parameter: base64 (standard or URL-safe, padding optional), raw JSON,
 * or JSON URL-encoded once more than the query string needs (Segment accepts all three).
 * Undefined when it holds no JSON object.
 */
export function decodePixelData(data: string): JsonObject | undefined {
  const text = data.trim();
  const candidates: (() => string)[] = [
    () => text,
    () => decodeURIComponent(text),
    () => {
      // A `+` left unencoded in the query string arrives as a space.
      const b64 = text.replace(/[- ]/g, '+').replace(/_/g, '/');
      const bin = atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), '='));
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(
        Uint8Array.from(bin, (ch) => ch.charCodeAt(0)),
      );
    },
  ];
  for (const candidate of candidates) {
    try {
      const value: unknown = JSON.parse(candidate());
      if (isObject(value)) return value;
    } catch {
      // Not this encoding; try the next.
    }
  }
  return undefined;
}

/**
 * `GET /v1/pixel/:type?data=…`: for email opens and places where only an image loads. Always
 * `200 image/gif`, as Segment documents: an image cannot show an error and is never retried, so
 * a bad request is recorded in the source debugger (when its write key is known) and the
 * answer stays the pixel.
 */
export function pixelRoute(accept: AcceptFn) {
  return new Hono<{ Bindings: Cloudflare.Env }>().get('/:type', async (c) => {
    const gif = () => c.body(GIF, 200, { 'content-type': 'image/gif', 'cache-control': 'no-store' });
    const type = c.req.param('type');
    if (!(EVENT_TYPES as readonly string[]).includes(type)) return gif();
    const body = decodePixelData(c.req.query('data') ?? '');
    if (!body) return gif();
    try {
      await accept(c, body, [body], type as EventType, 'pixel');
    } catch (err) {
      // A refused event is in the debugger already; an outage loses it (an image is never retried).
      if (!(err instanceof ApiError) || err.status >= 500) console.error('pixel event not stored', err);
    }
    return gif();
  });
}
