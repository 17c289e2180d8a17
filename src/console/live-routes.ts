import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { grants } from '../admin/scopes';
import { db } from '../db/client';
import { sources } from '../db/schema';
import { PII_VIEW_HEADER } from '../ingest/live-subscribe';
import { liveTap } from '../ingest/live-tap';
import { ApiError, forbidden, notFound } from '../lib/errors';
import { apiDoc } from '../lib/http/openapi';

const doc = apiDoc('Sources', {
  live: {
    summary: "The live debugger: a WebSocket that receives each batch of the source's new debugger entries",
    description:
      'Upgrade with `Upgrade: websocket`; messages are `{ "entries": [...] }`, oldest first, in the shape of ' +
      '`GET /api/sources/:id/events`. The console authenticates it with its session cookie.',
    errors: [404, 426],
  },
});

/** `GET /api/sources/:id/live`: the source's LiveTap object takes the socket (hibernatable). */
export const liveApi = new Hono<AdminEnv>().get('/:id/live', doc.live, requireScope('sources:read'), async (c) => {
  // Browsers send Origin on a WebSocket handshake: another site's page may not listen in.
  const origin = c.req.header('origin');
  if (origin && origin !== new URL(c.req.url).origin) throw forbidden('Cross-origin subscriptions are refused');
  const id = c.req.param('id');
  const row = await db(c.env.DB).select({ id: sources.id }).from(sources).where(eq(sources.id, id)).get();
  if (!row) throw notFound('Source');
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'upgrade_required', 'Open this URL as a WebSocket');
  }
  // Whether this subscriber may see PII in clear is decided here and told to the tap in a header
  // only this route sets (a client's own copy of it is replaced): sockets without `pii:read` get masked entries.
  const principal = c.get('principal');
  const headers = new Headers(c.req.raw.headers);
  headers.set(PII_VIEW_HEADER, principal && grants(principal.scopes, 'pii:read') ? 'clear' : 'masked');
  return liveTap(c.env, id).fetch(new Request(c.req.raw, { headers }));
});
