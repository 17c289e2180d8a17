import { Hono } from 'hono';
import { badRequest, notFound } from '../lib/errors';
import { isObject } from '../lib/json';
import type { AcceptFn } from './routes';
import { EVENT_TYPES, type EventType } from './spec';

/** A transparent 1×1 GIF, the answer every pixel gets. */
const GIF = Uint8Array.from(atob('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'), (ch) => ch.charCodeAt(0));

/** `GET /v1/pixel/:type?data=<base64 JSON>`: for email opens and places where only an image loads. */
export function pixelRoute(accept: AcceptFn) {
  return new Hono<{ Bindings: Cloudflare.Env }>().get('/:type', async (c) => {
    const type = c.req.param('type');
    if (!(EVENT_TYPES as readonly string[]).includes(type)) throw notFound(`Pixel type ${type}`);
    const data = c.req.query('data');
    if (!data) throw badRequest('`data` query parameter is required (base64-encoded JSON)');
    let body: unknown;
    try {
      const bin = atob(data.replace(/-/g, '+').replace(/_/g, '/'));
      body = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0))));
    } catch {
      throw badRequest('`data` is not base64-encoded JSON');
    }
    if (!isObject(body)) throw badRequest('`data` must encode a JSON object');
    const res = await accept(c, body, [body], type as EventType, 'single');
    if (res.status !== 200) return res;
    return c.body(GIF, 200, { 'content-type': 'image/gif', 'cache-control': 'no-store' });
  });
}
