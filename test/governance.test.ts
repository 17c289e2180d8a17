import { describe, expect, it } from 'vitest';
import {
  ADMIN,
  basic,
  debuggerUntil,
  eventually,
  getJson,
  makeDestination,
  makeSource,
  post,
  profilePath,
  SELF,
  vendor,
} from './kit/workers';

const orderRule = {
  type: 'TRACK',
  key: 'Order Completed',
  jsonSchema: {
    type: 'object',
    properties: {
      properties: {
        type: 'object',
        required: ['total'],
        properties: { total: { type: 'number', minimum: 0 }, currency: { type: 'string', enum: ['USD', 'EUR'] } },
      },
    },
  },
};

const send = (method: string, path: string, body?: unknown) =>
  SELF.fetch(`http://tessera.test${path}`, {
    method,
    headers: ADMIN,
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function planFor(sourceId: string, settings: Record<string, unknown>) {
  const plan = await (await post('/api/tracking-plans', { name: 'Shop', rules: [orderRule] }, ADMIN)).json<{
    id: string;
  }>();
  expect((await post(`/api/tracking-plans/${plan.id}/sources`, { sourceId }, ADMIN)).status).toBe(200);
  const res = await send('PUT', `/api/sources/${sourceId}/schema-settings`, settings);
  expect(res.status, await res.clone().text()).toBe(200);
  return plan.id;
}

type ProfileEvent = {
  message_id: string;
  source_id: string;
  event?: string;
  properties?: Record<string, unknown>;
  context: Record<string, unknown>;
};
const eventsOf = async (userId: string) =>
  (await getJson<{ data: ProfileEvent[] }>(profilePath(`user_id:${userId}`, 'events?limit=50'))).body.data ?? [];

describe('tracking plans', () => {
  it('refuses a rule whose JSON Schema is invalid, naming the rule', async () => {
    const res = await post(
      '/api/tracking-plans',
      { name: 'Bad', rules: [orderRule, { type: 'TRACK', key: 'X', jsonSchema: { type: 'strnig' } }] },
      ADMIN,
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toMatch(/rules\.1\.jsonSchema: not a valid JSON Schema/);
    expect((await post('/api/tracking-plans', { name: 'Dup', rules: [orderRule, orderRule] }, ADMIN)).status).toBe(400);
    expect(
      (await post('/api/tracking-plans', { name: 'NoKey', rules: [{ type: 'TRACK', jsonSchema: {} }] }, ADMIN)).status,
    ).toBe(400);
  });

  it('creates, lists, edits, replaces rules, connects one plan per source and deletes', async () => {
    const source = await makeSource('crud');
    const a = await (await post('/api/tracking-plans', { name: 'A', rules: [] }, ADMIN)).json<{ id: string }>();
    const b = await (await post('/api/tracking-plans', { name: 'B' }, ADMIN)).json<{ id: string }>();
    expect((await send('PATCH', `/api/tracking-plans/${a.id}`, { name: 'A2' })).status).toBe(200);
    expect((await send('PUT', `/api/tracking-plans/${a.id}/rules`, { rules: [orderRule] })).status).toBe(200);
    expect((await post(`/api/tracking-plans/${a.id}/sources`, { sourceId: source.id }, ADMIN)).status).toBe(200);
    expect((await post(`/api/tracking-plans/${b.id}/sources`, { sourceId: source.id }, ADMIN)).status).toBe(200);
    const list = await getJson<{ data: { id: string; name: string; rules: unknown[]; sourceIds: string[] }[] }>(
      '/api/tracking-plans',
    );
    expect(list.body.data.find((p) => p.id === a.id)).toMatchObject({ name: 'A2', rules: [orderRule], sourceIds: [] });
    expect(list.body.data.find((p) => p.id === b.id)?.sourceIds).toEqual([source.id]);
    expect((await post(`/api/tracking-plans/${b.id}/sources`, { sourceId: 'nope' }, ADMIN)).status).toBe(404);
    expect((await send('DELETE', `/api/tracking-plans/${b.id}/sources/${source.id}`)).status).toBe(200);
    expect((await send('DELETE', `/api/tracking-plans/${b.id}/sources/${source.id}`)).status).toBe(404);
    expect((await send('DELETE', `/api/tracking-plans/${a.id}`)).status).toBe(200);
    expect((await send('GET', `/api/tracking-plans/${a.id}`)).status).toBe(404);
    expect(
      (await send('PUT', `/api/sources/${source.id}/schema-settings`, { track: { allowUnplannedEvents: 'no' } }))
        .status,
    ).toBe(400);
  });

  it('blocks at the edge, forwards blocked events and Violation Generated, and still answers 200', async () => {
    const source = await makeSource('governed');
    const blockedSink = await makeSource('blocked sink');
    const violationSink = await makeSource('violation sink');
    await planFor(source.id, {
      track: { allowUnplannedEvents: false, allowEventOnViolations: false },
      forwardingBlockedEventsTo: blockedSink.id,
      forwardingViolationsTo: violationSink.id,
    });
    const userId = `gov-${crypto.randomUUID()}`;
    const auth = { authorization: basic(source.writeKey) };
    const ok = {
      userId,
      event: 'Order Completed',
      messageId: `ok-${userId}`,
      properties: { total: 5, currency: 'USD' },
    };
    const unplanned = { userId, event: 'Cart Viewed', messageId: `unplanned-${userId}` };
    const violating = { userId, event: 'Order Completed', messageId: `bad-${userId}`, properties: { total: -3 } };
    for (const e of [ok, unplanned, violating]) {
      const res = await post('/v1/track', e, auth);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ success: true });
    }
    const events = await eventually(async () => {
      const got = await eventsOf(userId);
      return got.length >= 4 ? got : undefined;
    });
    const bySource = (id: string) => events.filter((e) => e.source_id === id).map((e) => e.message_id);
    // Only the valid event is the governed source's; the blocked ones arrive under the sink.
    expect(bySource(source.id)).toEqual([ok.messageId]);
    expect(bySource(blockedSink.id).sort()).toEqual([violating.messageId, unplanned.messageId].sort());
    const violation = events.find((e) => e.source_id === violationSink.id);
    expect(violation?.event).toBe('Violation Generated');
    expect(violation?.properties).toMatchObject({
      eventName: 'Order Completed',
      eventType: 'track',
      violationType: 'Invalid Value',
      violationField: 'properties.total',
    });

    // The tap is handed over within half a second of the answer (batched per isolate): wait for all three.
    const tap = await debuggerUntil(source.id, (es) =>
      [ok, unplanned, violating].every((m) => es.some((d) => d.event.messageId === m.messageId)),
    );
    const entry = (id: string) => tap.find((d) => d.event.messageId === id);
    expect(entry(ok.messageId)?.status).toBe('accepted');
    expect(entry(unplanned.messageId)).toMatchObject({
      status: 'blocked',
      error: { message: 'TRACK:Cart Viewed is not in the tracking plan' },
    });
    expect(entry(violating.messageId)?.status).toBe('blocked');

    const violations = await eventually(async () => {
      const v = await getJson<{ data: { field: string; violationType: string; count: number }[] }>(
        `/api/sources/${source.id}/violations`,
      );
      return v.body.data.length ? v.body.data : undefined;
    });
    expect(violations).toMatchObject([{ field: 'properties.total', violationType: 'Invalid Value', count: 1 }]);
  });

  it('omits violating properties, names them in context.protocols, and keeps the event', async () => {
    const source = await makeSource('omitting');
    const planId = await planFor(source.id, { track: { allowPropertiesOnViolations: false } });
    const userId = `omit-${crypto.randomUUID()}`;
    const res = await post(
      '/v1/batch',
      {
        batch: [
          { type: 'track', userId, event: 'Order Completed', properties: { total: 9, currency: 'GBP', note: 'kept' } },
        ],
      },
      { authorization: basic(source.writeKey) },
    );
    expect(res.status).toBe(200);
    const [e] = await eventually(async () => {
      const got = await eventsOf(userId);
      return got.length ? got : undefined;
    });
    expect(e.properties).toEqual({ total: 9, note: 'kept' });
    expect(e.context.protocols).toEqual({
      sourceTrackingPlan: planId,
      violations: [{ type: 'Invalid Enum', field: 'properties.currency', description: expect.any(String) }],
      omitted: ['properties.currency'],
    });
    // The plan's own view (the console's plan page): the group, the source it came from, a sample.
    const byPlan = await eventually(async () => {
      const v = await getJson<{ data: Record<string, unknown>[] }>(`/api/tracking-plans/${planId}/violations`);
      return v.body.data.length ? v.body.data : undefined;
    });
    expect(byPlan).toMatchObject([
      { sourceId: source.id, trackingPlanId: planId, field: 'properties.currency', violationType: 'Invalid Enum' },
    ]);
    expect((byPlan[0].sample as { userId: string }).userId).toBe(userId);
    expect((await getJson('/api/tracking-plans/tp_missing/violations')).status).toBe(404);
  });

  it('reports the observed schema of a source and drafts a plan from it that the same traffic passes', async () => {
    const source = await makeSource('observed');
    const auth = { authorization: basic(source.writeKey) };
    const userId = `obs-${crypto.randomUUID()}`;
    const batch = [
      { type: 'track', userId, event: 'Song Played', properties: { title: 'A', seconds: 10 } },
      { type: 'track', userId, event: 'Song Played', properties: { title: 'B', seconds: 1.5, liked: true } },
      { type: 'identify', userId, traits: { plan: 'pro' } },
    ];
    expect((await post('/v1/batch', { batch }, auth)).status).toBe(200);
    const schema = await getJson<{
      data: {
        type: string;
        name: string;
        count: number;
        fields: { field: string; types: string[]; count: number }[];
      }[];
    }>(`/api/sources/${source.id}/schema`);
    const song = schema.body.data.find((e) => e.name === 'Song Played');
    expect(song).toMatchObject({ type: 'track', count: 2 });
    expect(song?.fields).toEqual([
      expect.objectContaining({ field: 'properties.liked', types: ['boolean'], count: 1 }),
      expect.objectContaining({ field: 'properties.seconds', types: ['integer', 'number'], count: 2 }),
      expect.objectContaining({ field: 'properties.title', types: ['string'], count: 2 }),
    ]);
    const draft = await post(`/api/tracking-plans/from-source/${source.id}`, {}, ADMIN);
    expect(draft.status).toBe(201);
    const plan = (await draft.json()) as { id: string; rules: { type: string; key?: string; jsonSchema: unknown }[] };
    const songRule = plan.rules.find((r) => r.key === 'Song Played');
    expect(songRule?.jsonSchema).toEqual({
      type: 'object',
      properties: {
        properties: {
          type: 'object',
          properties: {
            liked: { type: 'boolean' },
            seconds: { type: ['integer', 'number'] },
            title: { type: 'string' },
          },
          required: ['seconds', 'title'],
        },
      },
    });
    expect(plan.rules.map((r) => r.type).sort()).toEqual(['IDENTIFY', 'TRACK']);
    // The same traffic passes the drafted plan without a violation.
    expect((await post(`/api/tracking-plans/${plan.id}/sources`, { sourceId: source.id }, ADMIN)).status).toBe(200);
    expect((await post('/v1/batch', { batch }, auth)).status).toBe(200);
    // Both postings' entries (6), once the tap has them: none of the second batch has a violation.
    const tap = await debuggerUntil(source.id, (es) => es.length >= 2 * batch.length);
    expect(tap).toHaveLength(2 * batch.length);
    expect(tap.filter((d) => (d as { violations?: unknown[] }).violations)).toEqual([]);
    expect((await post('/api/tracking-plans/from-source/nope', {}, ADMIN)).status).toBe(404);
  });

  it("runs a source's transformations at ingest after the plan, and previews one", async () => {
    const source = await makeSource('transformed');
    const base = { sourceId: source.id, name: 'tidy' };
    const created = await post(
      '/api/transformations',
      {
        ...base,
        if: "event = 'order_done'",
        newEventName: 'Order Completed',
        propertyRenames: [{ oldName: 'Total', newName: 'total' }],
      },
      ADMIN,
    );
    expect(created.status, await created.clone().text()).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(
      (await post('/api/transformations', { ...base, if: "event = 'Debug Ping'", drop: true }, ADMIN)).status,
    ).toBe(201);
    expect((await post('/api/transformations', { ...base, sourceId: 'nope', if: 'all' }, ADMIN)).status).toBe(404);
    expect((await post('/api/transformations', { ...base, if: 'event = ' }, ADMIN)).status).toBe(400);

    const userId = `tf-${crypto.randomUUID()}`;
    const auth = { authorization: basic(source.writeKey) };
    expect((await post('/v1/track', { userId, event: 'order_done', properties: { Total: 7 } }, auth)).status).toBe(200);
    expect((await post('/v1/track', { userId, event: 'Debug Ping' }, auth)).status).toBe(200);
    const events = await eventually(async () => {
      const got = await eventsOf(userId);
      return got.length ? got : undefined;
    });
    expect(events.map((e) => [e.event, e.properties])).toEqual([['Order Completed', { total: 7 }]]);
    const tap = await debuggerUntil(source.id, (es) => es.some((d) => d.event.event === 'Debug Ping'));
    expect(tap.find((d) => d.event.event === 'Debug Ping')).toMatchObject({
      status: 'blocked',
      error: { code: 'dropped' },
    });

    const preview = await post(
      '/api/transformations/preview',
      { transformation: { ...base, if: 'all', newEventName: 'X' }, event: { type: 'track', event: 'a' } },
      ADMIN,
    );
    expect(await preview.json()).toEqual({ dropped: false, event: { type: 'track', event: 'X' } });
    expect((await send('PATCH', `/api/transformations/${id}`, { enabled: false })).status).toBe(200);
    expect(((await (await send('GET', `/api/transformations/${id}`)).json()) as { enabled: boolean }).enabled).toBe(
      false,
    );
    expect((await send('PATCH', `/api/transformations/${id}`, { if: 'event =' })).status).toBe(400);
    expect((await send('DELETE', `/api/transformations/${id}`)).status).toBe(200);
    expect((await send('GET', `/api/transformations/${id}`)).status).toBe(404);
  });

  it('runs destination-scoped transformations in delivery, for that destination only', async () => {
    const source = await makeSource('per destination');
    const hook = vendor('gov-hook.example');
    try {
      const shaped = await makeDestination({
        type: 'webhook',
        name: 'Shaped',
        sourceIds: [source.id],
        settings: { url: 'https://gov-hook.example/shaped' },
      });
      await makeDestination({
        type: 'webhook',
        name: 'Plain',
        sourceIds: [source.id],
        settings: { url: 'https://gov-hook.example/plain' },
      });
      const res = await post(
        '/api/transformations',
        {
          name: 'rename for one',
          sourceId: source.id,
          destinationId: shaped.id,
          if: "event = 'a'",
          newEventName: 'Shaped A',
        },
        ADMIN,
      );
      expect(res.status).toBe(201);
      const userId = `dt-${crypto.randomUUID()}`;
      expect((await post('/v1/track', { userId, event: 'a' }, { authorization: basic(source.writeKey) })).status).toBe(
        200,
      );
      const got = await eventually(() => (hook.received.length >= 2 ? hook.received : undefined));
      const byPath = Object.fromEntries(got.map((r) => [new URL(r.url).pathname, r.body.event]));
      expect(byPath).toEqual({ '/shaped': 'Shaped A', '/plain': 'a' });
      // The profile keeps the event as it arrived: the transformation is the destination's.
      const [stored] = await eventually(async () => {
        const e = await eventsOf(userId);
        return e.length ? e : undefined;
      });
      expect(stored.event).toBe('a');
    } finally {
      hook.restore();
    }
  });

  const COMMON_APP = {
    type: 'COMMON',
    jsonSchema: {
      type: 'object',
      properties: { context: { type: 'object', properties: { app: { type: 'object', required: ['version'] } } } },
    },
  };
  const traitsRule = (type: 'IDENTIFY' | 'GROUP', key: string) => ({
    type,
    jsonSchema: {
      type: 'object',
      properties: { traits: { type: 'object', properties: { [key]: { type: 'string' } } } },
    },
  });
  const controlCases = [
    {
      name: 'track allowUnplannedEventProperties',
      rules: [orderRule],
      settings: { track: { allowUnplannedEventProperties: false } },
      event: { type: 'track', event: 'Order Completed', properties: { total: 1, extra: 2 } },
      expect: { properties: { total: 1 } },
    },
    {
      name: 'track commonEventOnViolations BLOCK',
      rules: [orderRule, COMMON_APP],
      settings: { track: { commonEventOnViolations: 'BLOCK' } },
      event: { type: 'track', event: 'Order Completed', properties: { total: 1 }, context: { app: {} } },
      expect: 'blocked',
    },
    {
      name: 'track commonEventOnViolations OMIT_PROPS',
      rules: [orderRule, COMMON_APP],
      settings: { track: { commonEventOnViolations: 'OMIT_PROPS' } },
      event: { type: 'track', event: 'Order Completed', properties: { total: 1 }, context: { app: 'x' } },
      expect: { context: { omitted: ['context.app'] } },
    },
    {
      name: 'identify allowTraitsOnViolations',
      rules: [traitsRule('IDENTIFY', 'plan')],
      settings: { identify: { allowTraitsOnViolations: false } },
      event: { type: 'identify', traits: { plan: 5, name: 'a' } },
      expect: { traits: { name: 'a' } },
    },
    {
      name: 'identify allowUnplannedTraits',
      rules: [traitsRule('IDENTIFY', 'plan')],
      settings: { identify: { allowUnplannedTraits: false } },
      event: { type: 'identify', traits: { plan: 'pro', junk: 1 } },
      expect: { traits: { plan: 'pro' } },
    },
    {
      name: 'identify commonEventOnViolations BLOCK',
      rules: [COMMON_APP],
      settings: { identify: { commonEventOnViolations: 'BLOCK' } },
      event: { type: 'identify', traits: { plan: 'pro' }, context: { app: {} } },
      expect: 'blocked',
    },
    {
      name: 'group allowTraitsOnViolations',
      rules: [traitsRule('GROUP', 'industry')],
      settings: { group: { allowTraitsOnViolations: false } },
      event: { type: 'group', groupId: 'g1', traits: { industry: 3, size: 10 } },
      expect: { traits: { size: 10 } },
    },
    {
      name: 'group allowUnplannedTraits',
      rules: [traitsRule('GROUP', 'industry')],
      settings: { group: { allowUnplannedTraits: false } },
      event: { type: 'group', groupId: 'g1', traits: { industry: 'retail', size: 10 } },
      expect: { traits: { industry: 'retail' } },
    },
    {
      name: 'group commonEventOnViolations BLOCK',
      rules: [COMMON_APP],
      settings: { group: { commonEventOnViolations: 'BLOCK' } },
      event: { type: 'group', groupId: 'g1', traits: {}, context: { app: {} } },
      expect: 'blocked',
    },
  ] as const;

  it.each(controlCases)('schema control through the Worker: $name', async (c) => {
    const source = await makeSource(c.name);
    const plan = await (await post('/api/tracking-plans', { name: c.name, rules: c.rules }, ADMIN)).json<{
      id: string;
    }>();
    expect((await post(`/api/tracking-plans/${plan.id}/sources`, { sourceId: source.id }, ADMIN)).status).toBe(200);
    expect((await send('PUT', `/api/sources/${source.id}/schema-settings`, c.settings)).status).toBe(200);
    const userId = `ctl-${crypto.randomUUID()}`;
    const messageId = `m-${userId}`;
    const res = await post(
      `/v1/${c.event.type}`,
      { ...c.event, userId, messageId },
      { authorization: basic(source.writeKey) },
    );
    expect(await res.json()).toEqual({ success: true });
    const entry = await eventually(async () => {
      const tap = await getJson<{ data: { status: string; event: { messageId: string } }[] }>(
        `/api/sources/${source.id}/events`,
      );
      return tap.body.data.find((d) => d.event.messageId === messageId);
    });
    if (c.expect === 'blocked') {
      expect(entry.status).toBe('blocked');
      return;
    }
    expect(entry.status).toBe('accepted');
    const [stored] = await eventually(async () => {
      const got = (await eventsOf(userId)).filter((e) => e.message_id === messageId);
      return got.length ? got : undefined;
    });
    const want = c.expect as { properties?: unknown; traits?: unknown; context?: { omitted: string[] } };
    if (want.properties) expect(stored.properties).toEqual(want.properties);
    if (want.traits) expect((stored as { traits?: unknown }).traits).toEqual(want.traits);
    if (want.context) {
      expect(stored.context.app).toBeUndefined();
      expect((stored.context.protocols as { omitted: string[] }).omitted).toEqual(want.context.omitted);
    }
  });

  it('normalises values, defines properties with FQL and keeps only allowed ones at ingest', async () => {
    const source = await makeSource('value transformations');
    const res = await post(
      '/api/transformations',
      {
        name: 'tidy',
        sourceId: source.id,
        if: "event = 'Signed Up'",
        propertyValueTransformations: [
          { propertyPaths: ['phone'], normalize: 'e164', defaultCountry: 'DE' },
          { propertyPaths: ['plan'], propertyValue: 'standard' },
        ],
        fqlDefinedProperties: [{ fql: 'lowercase(properties.email)', propertyName: 'properties.email_lower' }],
        allowProperties: ['phone', 'plan', 'email_lower'],
      },
      ADMIN,
    );
    expect(res.status, await res.clone().text()).toBe(201);
    const userId = `vt-${crypto.randomUUID()}`;
    const event = {
      userId,
      event: 'Signed Up',
      properties: { phone: '030 1234567', plan: 'trial', email: 'A@B.IO', secret: 'x' },
    };
    expect((await post('/v1/track', event, { authorization: basic(source.writeKey) })).status).toBe(200);
    const [stored] = await eventually(async () => {
      const got = await eventsOf(userId);
      return got.length ? got : undefined;
    });
    expect(stored.properties).toEqual({ phone: '+49301234567', plan: 'standard', email_lower: 'a@b.io' });
  });
});
