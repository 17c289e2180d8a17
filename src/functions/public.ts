import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { db } from '../db/client';
import { sources } from '../db/schema';
import { acceptForSource } from '../ingest/accept';
import { LIMITS } from '../ingest/spec';
import { ApiError, notFound, tooLarge } from '../lib/errors';
import { type InvocationStatus, recordInvocations } from './invocations';
import { invoke } from './sandbox';
import { functionsConfig } from './store';

type Env = { Bindings: Cloudflare.Env };

/** How a source function's failure is answered to the webhook's sender (who may retry on 5xx). */
const STATUS_OF: Record<string, 400 | 429 | 500 | 503> = {
  ValidationError: 400,
  InvalidEventPayload: 400,
  EventNotSupported: 400,
  RetryError: 503,
  LimitExceeded: 500,
};

/**
 * `POST /v1/functions/:instanceId`: a source function's public URL. The request goes to the
 * customer's `onRequest(request, settings)` in its sandbox; the events it emits with
 * `Segment.track(...)` etc. enter the ingest path under the instance's source, exactly as if
 * they came through `/v1/batch` (governance, insert functions, identity, destinations).
 */
export const sourceFunctionsApi = new Hono<Env>().post('/:instanceId', async (c) => {
  const config = await functionsConfig(c.env);
  const instance = config.byId.get(c.req.param('instanceId'));
  if (!instance || instance.fn.kind !== 'source' || !instance.sourceId) throw notFound('Source function');
  const source = await db(c.env.DB).select().from(sources).where(eq(sources.id, instance.sourceId)).get();
  if (!source?.enabled) throw notFound('Source function');
  const body = await c.req.raw.text();
  if (body.length > LIMITS.requestBytes) throw tooLarge(`A request holds at most ${LIMITS.requestBytes} bytes`);
  const req = c.req.raw;
  const inv = await invoke(c.env, instance.fn, {
    handler: 'onRequest',
    request: { url: req.url, method: req.method, headers: [...req.headers], body: body || undefined },
    settings: instance.settings,
  });
  const status: InvocationStatus = inv.error ? 'error' : 'ok';
  c.executionCtx.waitUntil(
    recordInvocations(c.env.DB, [{ instance, inv, status }]).catch((e) => console.warn('not recorded', e)),
  );
  if (inv.error) {
    const code = STATUS_OF[inv.error.name] ?? 500;
    throw new ApiError(code, 'function_error', `${inv.error.name}: ${inv.error.message}`);
  }
  return acceptForSource(c, source, {}, inv.emitted, undefined, 'function');
});
