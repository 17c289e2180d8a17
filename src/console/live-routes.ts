import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { sources } from '../db/schema';
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
  return liveTap(c.env, id).fetch(c.req.raw);
});
