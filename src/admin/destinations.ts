import { desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { db } from '../db/client';
import { type DestinationRow, deliveryFailures, destinations } from '../db/destinations-schema';
import { deliveryConfig } from '../delivery/config';
import { perform } from '../delivery/perform';
import { resolvedProblem } from '../delivery/resolve';
import { DESTINATIONS, destinationType } from '../destinations/registry';
import type { AnyDestination } from '../destinations/types';
import { type EnrichedEvent, SegmentEvent } from '../ingest/spec';
import { ApiError, badRequest } from '../lib/errors';
import { describeIssues, parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { ulid } from '../lib/ids';
import { openDestinationRow, sealDestinationRow } from '../privacy/secrets';
import { type AdminEnv, requireScope } from './auth';
import {
  answerSummary,
  checkResolved,
  checkRouting,
  checkSettings,
  DestinationInput,
  DestinationPatch,
  destinationView,
  loadDestination,
  requireSecretsOnHostChange,
} from './destination-config';
import { destinationHealthApi } from './destination-health';

function typeOrThrow(type: string): AnyDestination {
  const def = destinationType(type);
  if (!def) {
    throw badRequest(`Unknown destination type "${type}"; one of: ${DESTINATIONS.map((d) => d.id).join(', ')}`);
  }
  return def;
}

/**
 * Validates a full configuration and returns the row to store. `given`: the settings the request
 * itself carried (a PATCH merges them into the stored ones), for the secrets-follow-the-host rule.
 */
async function rowFrom(
  env: Cloudflare.Env,
  input: DestinationInput,
  base?: DestinationRow,
  given: Record<string, unknown> = input.settings,
): Promise<DestinationRow> {
  const def = typeOrThrow(input.type);
  if (base && base.type !== input.type) throw badRequest('type cannot change; create a new destination instead');
  if (base) requireSecretsOnHostChange(def, base.settings, input.settings, given);
  const settings = checkSettings(env, def, input.settings, base?.settings);
  await checkResolved(env, def, settings);
  await checkRouting(env, input);
  const now = new Date().toISOString();
  return {
    id: base?.id ?? ulid(),
    type: input.type,
    name: input.name,
    enabled: input.enabled,
    sourceIds: [...new Set(input.sourceIds)],
    settings,
    filters: input.filters,
    consentCategories: input.consentCategories ?? null,
    createdAt: base?.createdAt ?? now,
    updatedAt: now,
  };
}

const TestInput = z.object({
  event: z.record(z.string(), z.unknown()).optional().describe('A Segment event to send; default: a sample track'),
});

/** The event `POST /:id/test` sends: the caller's (completed like the edge would) or a sample. */
function testEvent(raw: Record<string, unknown> | undefined): EnrichedEvent {
  const now = new Date().toISOString();
  const candidate = raw ?? {
    type: 'track',
    event: 'Tessera Test Event',
    userId: 'tessera-test-user',
    properties: { source: 'Tessera destination test' },
  };
  const parsed = SegmentEvent.safeParse(candidate);
  if (!parsed.success) throw badRequest(`Invalid test event: ${describeIssues(parsed.error)}`);
  return {
    ...parsed.data,
    messageId: parsed.data.messageId ?? `test-${ulid()}`,
    receivedAt: now,
    timestamp: parsed.data.timestamp ?? now,
    originalTimestamp: parsed.data.originalTimestamp ?? now,
    context: { library: { name: 'tessera-test', version: '1' }, ...(parsed.data.context ?? {}) },
  } as EnrichedEvent;
}

/** Hides query values that look like credentials (GA4 puts its secret in the URL). */
function redactUrl(raw: string): string {
  const url = new URL(raw);
  for (const key of [...url.searchParams.keys()]) {
    if (/secret|key|token|password/i.test(key)) url.searchParams.set(key, '****');
  }
  return url.toString();
}

const doc = apiDoc('Destinations', {
  catalog: { summary: 'Destination types, with the JSON Schema of their settings' },
  list: { summary: 'List destinations (secrets masked)' },
  create: { summary: 'Create a destination', body: DestinationInput, status: 201 },
  get: { summary: 'Get a destination (secrets masked)', errors: [404] },
  replace: { summary: 'Replace a destination', body: DestinationInput, errors: [404] },
  update: { summary: 'Change some fields; settings merge key by key', body: DestinationPatch, errors: [404] },
  remove: { summary: 'Delete a destination and its recorded failures', status: 204, errors: [404] },
  test: {
    summary: "Send one event (default: a sample track) and return the vendor's answer",
    body: TestInput,
    bodyOptional: true,
    errors: [404, 409],
  },
});

/** `/api/destinations`: configuration, test sends, and (sub-app) health, failures and replay. */
export const destinationsApi = new Hono<AdminEnv>()
  .get('/catalog', doc.catalog, requireScope('destinations:read'), (c) =>
    c.json({
      data: DESTINATIONS.map((d) => ({
        type: d.id,
        name: d.name,
        description: d.description,
        supportedTypes: d.supportedTypes,
        consentCategories: d.consentCategories,
        secrets: d.secrets,
        settings: z.toJSONSchema(d.settings, { io: 'input', unrepresentable: 'any' }),
      })),
    }),
  )
  .get('/', doc.list, requireScope('destinations:read'), async (c) => {
    const stored = await db(c.env.DB).select().from(destinations).orderBy(desc(destinations.createdAt)).all();
    const rows = await Promise.all(stored.map((r) => openDestinationRow(c.env, r)));
    return c.json({ data: rows.map((r) => destinationView(r, destinationType(r.type))) });
  })
  .post('/', doc.create, requireScope('destinations:write'), async (c) => {
    const input = await parseJson(c.req.raw, DestinationInput);
    const row = await rowFrom(c.env, input);
    await db(c.env.DB)
      .insert(destinations)
      .values(await sealDestinationRow(c.env, row));
    return c.json(destinationView(row, destinationType(row.type)), 201);
  })
  .get('/:id', doc.get, requireScope('destinations:read'), async (c) => {
    const { row, def } = await loadDestination(c.env, c.req.param('id'));
    return c.json(destinationView(row, def));
  })
  .put('/:id', doc.replace, requireScope('destinations:write'), async (c) => {
    const { row } = await loadDestination(c.env, c.req.param('id'));
    const input = await parseJson(c.req.raw, DestinationInput);
    const next = await rowFrom(c.env, input, row);
    await db(c.env.DB)
      .update(destinations)
      .set(await sealDestinationRow(c.env, next))
      .where(eq(destinations.id, row.id));
    return c.json(destinationView(next, destinationType(next.type)));
  })
  .patch('/:id', doc.update, requireScope('destinations:write'), async (c) => {
    const { row } = await loadDestination(c.env, c.req.param('id'));
    const patch = await parseJson(c.req.raw, DestinationPatch);
    const merged: DestinationInput = {
      type: patch.type ?? row.type,
      name: patch.name ?? row.name,
      enabled: patch.enabled ?? row.enabled,
      sourceIds: patch.sourceIds ?? row.sourceIds,
      // Settings merge key by key, so one value changes without resending the secrets.
      settings: { ...row.settings, ...(patch.settings ?? {}) },
      filters: patch.filters ?? (row.filters as DestinationInput['filters']),
      consentCategories: patch.consentCategories === undefined ? row.consentCategories : patch.consentCategories,
    };
    const next = await rowFrom(c.env, merged, row, patch.settings ?? {});
    await db(c.env.DB)
      .update(destinations)
      .set(await sealDestinationRow(c.env, next))
      .where(eq(destinations.id, row.id));
    return c.json(destinationView(next, destinationType(next.type)));
  })
  .delete('/:id', doc.remove, requireScope('destinations:write'), async (c) => {
    const { row } = await loadDestination(c.env, c.req.param('id'));
    const d = db(c.env.DB);
    await d.batch([
      d.delete(destinations).where(eq(destinations.id, row.id)),
      d.delete(deliveryFailures).where(eq(deliveryFailures.destinationId, row.id)),
    ]);
    return c.body(null, 204);
  })
  .post('/:id/test', doc.test, requireScope('destinations:write'), async (c) => {
    const { row, def } = await loadDestination(c.env, c.req.param('id'));
    if (!def) throw new ApiError(409, 'unknown_type', `Destination type ${row.type} is no longer available`);
    const hasBody = (await c.req.raw.clone().text()).trim() !== '';
    const input = hasBody ? await parseJson(c.req.raw, TestInput) : {};
    const event = testEvent(input.event);
    if (!def.supportedTypes.includes(event.type)) {
      throw badRequest(`${def.name} does not take ${event.type} calls; it takes ${def.supportedTypes.join(', ')}`);
    }
    const settings = checkSettings(c.env, def, row.settings, row.settings);
    const req = await def.map([event], settings, { now: new Date(), destinationId: row.id, destinationName: row.name });
    if (!req) return c.json({ ok: false, skipped: true, message: `${def.name} has nothing to send for this event` });
    const config = deliveryConfig(c.env);
    const result = await perform(req, {
      timeoutMs: config.timeoutMs,
      allowLoopback: config.allowLoopback,
      bodyError: def.bodyError,
      resolve: (url) => resolvedProblem(url, { allowLoopback: config.allowLoopback }),
    });
    const request = { method: req.method, url: redactUrl(req.url) };
    // The answer is summarised, never returned verbatim: /test must not read internal services.
    if (result.ok) {
      const answer = answerSummary(result.status, result.headers, result.body);
      return c.json({
        ok: true,
        status: result.status,
        response: answer.excerpt,
        answer,
        durationMs: result.durationMs,
        request,
      });
    }
    const answer = answerSummary(result.error.status, result.headers, result.error.response);
    return c.json({
      ok: false,
      status: result.error.status ?? null,
      error: result.error.message,
      retryable: result.error.name === 'RetryableError',
      response: answer.excerpt,
      answer,
      durationMs: result.durationMs,
      request,
    });
  })
  .route('/', destinationHealthApi);
