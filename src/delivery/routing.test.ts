import { describe, expect, it } from 'vitest';
import { EVENTS } from '../destinations/test-events';
import { webhook } from '../destinations/webhook';
import { TransformationBody } from '../governance/transformations';
import type { EnrichedEvent } from '../ingest/spec';
import { applyFilters, DestinationFilter, filterProblems, unitHash } from './filters';
import { consentAllows, integrationsAllow, type LiveDestination, route } from './routing';

const dest = (over: Partial<LiveDestination> = {}): LiveDestination => ({
  id: 'd1',
  name: 'Prod hook',
  def: webhook,
  settings: {},
  sourceIds: ['src1'],
  consentCategories: [],
  filters: [],
  ...over,
});
const track = EVENTS.track;
const withFields = (e: EnrichedEvent, over: Record<string, unknown>) => ({ ...e, ...over }) as EnrichedEvent;
const filters = (raw: unknown[]) => DestinationFilter.array().parse(raw);

describe('integrations object', () => {
  it('honours All:false with per-destination opt-ins, by instance name, catalog name or type', () => {
    expect(integrationsAllow(track, dest())).toBe(true);
    expect(integrationsAllow(withFields(track, { integrations: { All: false } }), dest())).toBe(false);
    expect(integrationsAllow(withFields(track, { integrations: { All: false, Webhooks: true } }), dest())).toBe(true);
    expect(integrationsAllow(withFields(track, { integrations: { All: false, 'prod hook': {} } }), dest())).toBe(true);
    expect(integrationsAllow(withFields(track, { integrations: { webhook: false } }), dest())).toBe(false);
    expect(integrationsAllow(withFields(track, { integrations: { Mixpanel: false } }), dest())).toBe(true);
  });
});

describe('consent', () => {
  const consent = (prefs: Record<string, boolean>) =>
    withFields(track, { context: { ...track.context, consent: { categoryPreferences: prefs } } });
  it('needs every mapped category to be true when preferences are present', () => {
    expect(consentAllows(consent({ Analytics: true, Advertising: false }), ['Analytics'])).toBe(true);
    expect(consentAllows(consent({ Analytics: true, Advertising: false }), ['Analytics', 'Advertising'])).toBe(false);
    expect(consentAllows(consent({ Advertising: true }), ['Analytics'])).toBe(false);
  });
  it('lets events without preferences, and destinations without categories, pass', () => {
    expect(consentAllows(track, ['Analytics'])).toBe(true);
    expect(consentAllows(consent({ Analytics: false }), [])).toBe(true);
  });
});

describe('destination filters', () => {
  it('drops events matching the FQL condition', () => {
    const f = filters([{ if: 'type = "track" and event = "Order Completed"', actions: [{ type: 'DROP' }] }]);
    expect(applyFilters(track, f)).toBeNull();
    expect(applyFilters(EVENTS.page, f)).toBe(EVENTS.page);
  });

  it('removes or keeps only listed fields', () => {
    const drop = filters([
      { if: 'all', actions: [{ type: 'drop_properties', fields: { properties: ['revenue'], context: ['ip'] } }] },
    ]);
    const out = applyFilters(track, drop) as EnrichedEvent & { properties: Record<string, unknown> };
    expect(out.properties.revenue).toBeUndefined();
    expect(out.properties.order_id).toBe('o-1001');
    expect(out.context.ip).toBeUndefined();
    expect((track as { properties: Record<string, unknown> }).properties.revenue).toBe(42.5);
    const allow = filters([
      { if: 'all', actions: [{ type: 'ALLOW_PROPERTIES', fields: { properties: ['currency'] } }] },
    ]);
    expect((applyFilters(track, allow) as { properties: unknown }).properties).toEqual({ currency: 'EUR' });
  });

  it('samples deterministically (a redelivered event decides the same way), by a path when given', () => {
    const half = filters([{ if: 'all', actions: [{ type: 'sample', percent: 0.5 }] }]);
    let kept = 0;
    for (let i = 0; i < 2000; i++) {
      const e = withFields(track, { messageId: `m-${i}` });
      const first = applyFilters(e, half);
      expect(applyFilters(e, half)).toEqual(first);
      if (first) kept++;
    }
    expect(kept).toBeGreaterThan(850);
    expect(kept).toBeLessThan(1150);
    const byUser = filters([
      { if: 'all', actions: [{ type: 'sample', percent: unitHash('user-42') + 0.001, path: 'userId' }] },
    ]);
    expect(applyFilters(withFields(track, { messageId: 'x' }), byUser)).not.toBeNull();
  });

  it('reports invalid FQL with the filter and the position', () => {
    expect(filterProblems(filters([{ if: 'event = ', actions: [{ type: 'drop' }] }]))).toMatch(
      /^filters\.0\.if: .*position/,
    );
    expect(filterProblems(filters([{ if: 'all', actions: [{ type: 'drop' }] }]))).toBeUndefined();
  });
});

describe('route', () => {
  it('fans out to subscribed destinations, each with its own filtered copy', () => {
    const a = dest({ id: 'a' });
    const b = dest({
      id: 'b',
      filters: filters([{ if: 'all', actions: [{ type: 'drop_properties', fields: { properties: ['revenue'] } }] }]),
    });
    const other = dest({ id: 'c', sourceIds: ['src2'] });
    const all = dest({ id: 'd', sourceIds: ['*'] });
    const routes = route({ kind: 'event', sourceId: 'src1', event: track }, [a, b, other, all]);
    expect(routes.map((r) => r.dest.id)).toEqual(['a', 'b', 'd']);
    expect(
      'event' in routes[1] && (routes[1].event as { properties: Record<string, unknown> }).properties.revenue,
    ).toBeUndefined();
  });

  it('sends audience events only to the named destinations and reports why others drop', () => {
    const a = dest({ id: 'a' });
    const b = dest({ id: 'b', consentCategories: ['Marketing'] });
    expect(route({ kind: 'event', event: track, destinationIds: ['b'] }, [a, b]).map((r) => r.dest.id)).toEqual(['b']);
    const denied = withFields(track, { context: { consent: { categoryPreferences: { Marketing: false } } } });
    expect(route({ kind: 'event', sourceId: 'src1', event: denied }, [a, b])).toEqual([
      { dest: a, event: denied },
      { dest: b, dropped: 'consent' },
    ]);
  });
});

describe('destination-scoped transformations', () => {
  const t = (body: Record<string, unknown>) =>
    TransformationBody.parse({ name: 't', sourceId: 'src1', if: 'all', ...body });
  const msg = (event: EnrichedEvent) => ({ kind: 'event' as const, sourceId: 'src1', event });

  it('change the event for their destination and source only, before its filters', () => {
    const renamed = dest({
      transformations: new Map([['src1', [t({ newEventName: 'Renamed' })]]]),
      filters: filters([
        { if: "event = 'Renamed'", actions: [{ type: 'drop_properties', fields: { properties: ['revenue'] } }] },
      ]),
    });
    const other = dest({ id: 'd2' });
    const [a, b] = route(msg(track), [renamed, other]);
    expect(a).toMatchObject({ event: { event: 'Renamed' } });
    expect((a as { event: EnrichedEvent }).event.properties).not.toHaveProperty('revenue');
    expect(b).toMatchObject({ event: { event: track.event } });
    expect(
      route({ ...msg(track), sourceId: 'src2' }, [
        dest({ sourceIds: ['*'], transformations: renamed.transformations }),
      ])[0],
    ).toMatchObject({
      event: { event: track.event },
    });
  });

  it('drop the event for that destination when one says so', () => {
    expect(route(msg(track), [dest({ transformations: new Map([['src1', [t({ drop: true })]]]) })])).toEqual([
      { dest: expect.objectContaining({ id: 'd1' }), dropped: 'transformation' },
    ]);
  });
});
