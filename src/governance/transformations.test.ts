import { describe, expect, it } from 'vitest';
import { normalize } from './normalize';
import { applyAll, applyTransformation, TransformationBody } from './transformations';

const t = (body: Record<string, unknown>) => TransformationBody.parse({ name: 't', sourceId: 's', if: 'all', ...body });

describe('transformations', () => {
  const order = {
    type: 'track',
    event: 'order_done',
    properties: { Total: 5, email: ' A@B.COM ', nested: { deep: 1 } },
    context: { traits: { plan: 'x' } },
  };

  it('renames the event and properties, nested and under context.traits', () => {
    const out = applyTransformation(
      t({
        newEventName: 'Order Completed',
        propertyRenames: [
          { oldName: 'Total', newName: 'total' },
          { oldName: 'properties.nested.deep', newName: 'shallow' },
          { oldName: 'context.traits.plan', newName: 'context.traits.tier' },
        ],
      }),
      order,
    );
    expect(out).toEqual({
      type: 'track',
      event: 'Order Completed',
      properties: { total: 5, email: ' A@B.COM ', nested: { shallow: 1 } },
      context: { traits: { tier: 'x' } },
    });
    expect(order.properties.Total).toBe(5); // the input is untouched
  });

  it('sets values, normalises them, defines properties with FQL and keeps only allowed ones', () => {
    const out = applyTransformation(
      t({
        propertyValueTransformations: [
          { propertyPaths: ['email'], normalize: 'trim' },
          { propertyPaths: ['properties.email'], normalize: 'lowercase' },
          { propertyPaths: ['Total'], propertyValue: 'hidden' },
        ],
        fqlDefinedProperties: [{ fql: 'lowercase(event)', propertyName: 'properties.kind' }],
        allowProperties: ['email', 'kind'],
      }),
      order,
    );
    expect(out?.properties).toEqual({ email: 'a@b.com', kind: 'order_done' });
  });

  it('applies only where `if` matches, drops when told to, and chains', () => {
    const only = t({ if: "event = 'other'", drop: true });
    expect(applyTransformation(only, order)).toBe(order);
    expect(applyTransformation(t({ if: "event = 'order_done'", drop: true }), order)).toBeNull();
    expect(applyTransformation(t({ enabled: false, drop: true }), order)).toBe(order);
    expect(applyAll([t({ newEventName: 'A' }), t({ if: "event = 'A'", drop: true })], order)).toBeNull();
  });

  it('defaults bare names to traits for identify and refuses prototype paths', () => {
    const out = applyTransformation(
      t({
        propertyRenames: [
          { oldName: 'Email', newName: 'email' },
          { oldName: '__proto__', newName: 'x' },
        ],
      }),
      {
        type: 'identify',
        traits: { Email: 'e' },
      },
    );
    expect(out).toEqual({ type: 'identify', traits: { email: 'e' } });
  });

  it('refuses a transformation with invalid FQL or both a value and a normaliser', () => {
    expect(TransformationBody.safeParse({ name: 'x', sourceId: 's', if: 'event = ' }).success).toBe(false);
    expect(
      TransformationBody.safeParse({
        name: 'x',
        sourceId: 's',
        if: 'all',
        propertyValueTransformations: [{ propertyPaths: ['a'], propertyValue: 'v', normalize: 'trim' }],
      }).success,
    ).toBe(false);
  });
});

describe('normalisers', () => {
  it('formats phone numbers as E.164 with a default country, and leaves what it cannot parse', () => {
    expect(normalize('e164', '030 1234567', 'DE')).toBe('+49301234567');
    expect(normalize('e164', '(415) 555-2671', 'US')).toBe('+14155552671');
    expect(normalize('e164', '+44 20 7946 0958')).toBe('+442079460958');
    expect(normalize('e164', 'call me')).toBe('call me');
  });

  it('formats dates as ISO-8601 UTC, from text or epoch seconds/milliseconds', () => {
    expect(normalize('iso8601', '2024-03-01T10:00:00+02:00')).toBe('2024-03-01T08:00:00.000Z');
    expect(normalize('iso8601', 1700000000)).toBe('2023-11-14T22:13:20.000Z');
    expect(normalize('iso8601', 1700000000000)).toBe('2023-11-14T22:13:20.000Z');
    expect(normalize('iso8601', 'soon')).toBe('soon');
    expect(normalize('uppercase', 'abc')).toBe('ABC');
    expect(normalize('trim', 5)).toBe(5);
  });
});
