import { describe, expect, it } from 'vitest';
import { prng } from '../lib/prng';
import { compilePlan, govern } from './plan';
import { DEFAULT_SCHEMA_SETTINGS, type Rule, SchemaSettings } from './rules';

const orderRule: Rule = {
  type: 'TRACK',
  key: 'Order Completed',
  jsonSchema: {
    type: 'object',
    properties: {
      properties: {
        type: 'object',
        required: ['total'],
        properties: {
          total: { type: 'number', minimum: 0 },
          currency: { enum: ['USD', 'EUR'] },
          coupon: { type: 'string' },
        },
      },
    },
  },
};
const identifyRule: Rule = {
  type: 'IDENTIFY',
  jsonSchema: {
    type: 'object',
    properties: {
      traits: { type: 'object', properties: { email: { type: 'string', format: 'email' }, plan: { type: 'string' } } },
    },
  },
};
const commonRule: Rule = {
  type: 'COMMON',
  jsonSchema: {
    type: 'object',
    properties: { context: { type: 'object', properties: { app: { type: 'object', required: ['version'] } } } },
  },
};
const plan = compilePlan('tp_1', [orderRule, identifyRule, commonRule]);
const settings = (s: unknown) => SchemaSettings.parse(s);

describe('govern', () => {
  it('lets a valid event through untouched', () => {
    const e = { type: 'track', event: 'Order Completed', properties: { total: 5, currency: 'USD' } };
    expect(govern(plan, DEFAULT_SCHEMA_SETTINGS, e)).toEqual({ blocked: false, event: e, violations: [], omitted: [] });
  });

  it('lists violations in context.protocols and keeps the event by default', () => {
    const e = {
      type: 'track',
      event: 'Order Completed',
      properties: { total: -1, currency: 'GBP' },
      context: { ip: '1.2.3.4' },
    };
    const v = govern(plan, DEFAULT_SCHEMA_SETTINGS, e);
    expect(v.blocked).toBe(false);
    expect(v.violations.map((x) => `${x.type} ${x.field}`).sort()).toEqual([
      'Invalid Enum properties.currency',
      'Invalid Value properties.total',
    ]);
    expect(v.event.context).toMatchObject({
      ip: '1.2.3.4',
      protocols: { sourceTrackingPlan: 'tp_1', violations: [{}, {}] },
    });
    expect(e.context).toEqual({ ip: '1.2.3.4' }); // the input is not changed
  });

  it('blocks unplanned events and violating events when the source says so', () => {
    const strict = settings({ track: { allowUnplannedEvents: false, allowEventOnViolations: false } });
    expect(govern(plan, strict, { type: 'track', event: 'Nope' })).toMatchObject({
      blocked: true,
      reason: 'TRACK:Nope is not in the tracking plan',
    });
    expect(govern(plan, strict, { type: 'track', event: 'Order Completed', properties: {} })).toMatchObject({
      blocked: true,
      violations: [{ type: 'Required', field: 'properties.total' }],
    });
    expect(govern(plan, strict, { type: 'track', event: 'Order Completed', properties: { total: 1 } }).blocked).toBe(
      false,
    );
    // Identify and page are never blocked by the track controls.
    expect(govern(plan, strict, { type: 'page', name: 'Home' }).blocked).toBe(false);
  });

  it('omits violating and unplanned properties when told to, and names them', () => {
    const s = settings({ track: { allowPropertiesOnViolations: false, allowUnplannedEventProperties: false } });
    const v = govern(plan, s, {
      type: 'track',
      event: 'Order Completed',
      properties: { total: 3, currency: 'GBP', junk: 1, coupon: 'X' },
    });
    expect(v.event.properties).toEqual({ total: 3, coupon: 'X' });
    expect(v.omitted.sort()).toEqual(['properties.currency', 'properties.junk']);
    expect((v.event.context as { protocols: { omitted: string[] } }).protocols.omitted.sort()).toEqual(
      v.omitted.sort(),
    );
  });

  it('omits violating and unplanned traits of an identify', () => {
    const s = settings({ identify: { allowTraitsOnViolations: false, allowUnplannedTraits: false } });
    const v = govern(plan, s, {
      type: 'identify',
      userId: 'u',
      traits: { email: 'not-an-email', plan: 'pro', age: 3 },
    });
    expect(v.event.traits).toEqual({ plan: 'pro' });
    expect(v.omitted.sort()).toEqual(['traits.age', 'traits.email']);
  });

  it('applies the common rule to every type with its own action', () => {
    const noApp = { type: 'page', name: 'Home', context: { app: {} } };
    expect(govern(plan, DEFAULT_SCHEMA_SETTINGS, noApp).violations).toMatchObject([
      { type: 'Required', field: 'context.app.version', rule: 'COMMON' },
    ]);
    expect(govern(plan, settings({ track: { commonEventOnViolations: 'BLOCK' } }), noApp).blocked).toBe(true);
    const bad = { type: 'identify', userId: 'u', context: { app: 'x' } };
    expect(govern(plan, settings({ identify: { commonEventOnViolations: 'OMIT_PROPS' } }), bad).event.context).toEqual({
      protocols: expect.objectContaining({ omitted: ['context.app'] }),
    });
  });
});

// ---- Property test: govern against a reference interpretation of a generated rule. ----

type Prop =
  | { type: 'string' | 'number' | 'integer' | 'boolean' }
  | { enum: unknown[] }
  | { type: 'number'; minimum: number; maximum: number };
const KEYS = ['a', 'b', 'c', 'd', 'e'];

function reference(props: Record<string, Prop>, required: string[], closed: boolean, value: unknown): string[] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return ['Invalid Type|properties'];
  const obj = value as Record<string, unknown>;
  const out: string[] = [];
  for (const r of required) if (!(r in obj)) out.push(`Required|properties.${r}`);
  for (const [k, v] of Object.entries(obj)) {
    const p = props[k];
    const field = `properties.${k}`;
    if (!p) {
      if (closed) out.push(`Unplanned|${field}`);
      continue;
    }
    if ('enum' in p) {
      if (!p.enum.some((x) => JSON.stringify(x) === JSON.stringify(v))) out.push(`Invalid Enum|${field}`);
      continue;
    }
    const typeOk =
      p.type === 'string'
        ? typeof v === 'string'
        : p.type === 'boolean'
          ? typeof v === 'boolean'
          : p.type === 'integer'
            ? Number.isInteger(v)
            : typeof v === 'number';
    if (!typeOk) out.push(`Invalid Type|${field}`);
    else if ('minimum' in p && typeof v === 'number') {
      if (v < p.minimum) out.push(`Invalid Value|${field}`);
      if (v > p.maximum) out.push(`Invalid Value|${field}`);
    }
  }
  return out.sort();
}

describe('govern, property test against a reference interpretation', () => {
  it('never throws and agrees with the reference on 2,000 generated rules and events', () => {
    const rand = prng(11).next;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
    const anyValue = (depth = 0): unknown => {
      const r = rand();
      if (r < 0.15) return Math.floor(rand() * 20) - 10;
      if (r < 0.3) return rand() * 20 - 10;
      if (r < 0.45) return pick(['x', 'USD', '', 'ünï']);
      if (r < 0.55) return rand() < 0.5;
      if (r < 0.62) return null;
      if (r < 0.72 && depth < 3) return [anyValue(depth + 1)];
      if (depth < 3) return { k: anyValue(depth + 1) };
      return 1;
    };
    for (let i = 0; i < 2000; i++) {
      const props: Record<string, Prop> = {};
      for (const k of KEYS) {
        if (rand() < 0.4) continue;
        const r = rand();
        if (r < 0.5) props[k] = { type: pick(['string', 'number', 'integer', 'boolean'] as const) };
        else if (r < 0.75) props[k] = { enum: [pick(['x', 'USD', 1, true, null])] };
        else {
          const lo = Math.floor(rand() * 10) - 5;
          props[k] = { type: 'number', minimum: lo, maximum: lo + Math.floor(rand() * 6) };
        }
      }
      const required = KEYS.filter(() => rand() < 0.2);
      const closed = rand() < 0.3;
      const rule: Rule = {
        type: 'TRACK',
        key: 'E',
        jsonSchema: {
          type: 'object',
          properties: {
            properties: {
              type: 'object',
              required,
              properties: props,
              ...(closed ? { additionalProperties: false } : {}),
            },
          },
        },
      };
      const value =
        rand() < 0.1 ? anyValue() : Object.fromEntries(KEYS.filter(() => rand() < 0.5).map((k) => [k, anyValue()]));
      const strict = rand() < 0.5;
      const s = settings({ track: { allowEventOnViolations: !strict } });
      const expected = reference(props, required, closed, value);
      const v = govern(compilePlan('p', [rule]), s, { type: 'track', event: 'E', properties: value });
      const got = v.violations.map((x) => `${x.type}|${x.field}`).sort();
      expect(got, JSON.stringify({ props, required, closed, value })).toEqual(expected);
      expect(v.blocked).toBe(strict && expected.length > 0);
    }
  });
});
