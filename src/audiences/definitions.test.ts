import { describe, expect, it } from 'vitest';
import { Audience, ComputedTrait, formatPath } from './definitions';
import { checkReferences, topoSortAudiences } from './graph';

const issuesOf = (result: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (result.error?.issues ?? []).map((i) => `${formatPath(i.path as (string | number)[])}: ${i.message}`);
const audience = (definition: unknown) => Audience.safeParse({ key: 'a', name: 'A', definition });

describe('computed trait definitions', () => {
  it('accepts every documented type and applies defaults', () => {
    const t = ComputedTrait.parse({
      key: 'orders_30d',
      name: 'Orders in 30 days',
      type: 'count',
      event: 'Order Completed',
      where: 'properties.total > 50',
      within: '30d',
    });
    expect(t).toMatchObject({ emit: 'identify', destinationIds: [], public: false, collection: 'users' });
    const sum = { key: 'rev', name: 'Revenue', type: 'sum', event: 'Order Completed', property: 'properties.total' };
    expect(ComputedTrait.safeParse(sum).success).toBe(true);
    expect(ComputedTrait.safeParse({ ...sum, property: 'properties.product\\ 1.price' }).success).toBe(true);
  });

  it('explains what is wrong, field by field', () => {
    const bad = ComputedTrait.safeParse({
      key: 'Orders 30d',
      name: 'x',
      type: 'median',
      event: 'E',
      where: 'properties.total >',
      within: '30 days',
    });
    const issues = issuesOf(bad).join('\n');
    expect(issues).toMatch(/^key: must be snake_case/m);
    expect(issues).toMatch(/^type: /m);
    expect(issues).toMatch(/^where: invalid FQL: Expected a value.*position 18/m);
    expect(issues).toMatch(/^within: must be a window like "30d"/m);
    expect(issuesOf(ComputedTrait.safeParse({ key: 'k', name: 'n', type: 'sum', event: 'E' }))).toEqual([
      'property: a sum trait needs the event property to use',
    ]);
    const notPath = { key: 'k', name: 'n', type: 'max', event: 'E', property: 'properties.a = 1' };
    expect(issuesOf(ComputedTrait.safeParse(notPath))).toEqual([
      'property: must be a field path like "properties.total"',
    ]);
    expect(
      issuesOf(ComputedTrait.safeParse({ key: 'k', name: 'n', type: 'count', event: 'E', extra: 1 })),
    ).toHaveLength(1);
  });
});

describe('audience definitions', () => {
  it('accepts the documented tree', () => {
    const ok = audience({
      and: [
        { event: 'Order Completed', where: 'properties.total > 50', count: { '>=': 2 }, within: '30d' },
        { trait: 'plan', op: '=', value: 'pro' },
        { computed: 'orders_30d', op: '>=', value: 3 },
        { not: { audience: 'churned' } },
        {
          or: [
            { trait: 'email', op: 'exists' },
            { trait: 'plan', op: 'in', value: ['pro', 'team'] },
          ],
        },
      ],
    });
    expect(issuesOf(ok)).toEqual([]);
  });

  it.each([
    [{ and: [{ event: 'A' }, { event: 'B', count: { '>=': -1 } }] }, 'definition.and[1].count[">="]'],
    [{ and: [{ event: 'A' }, { event: 'B', count: { '~': 1 } }] }, 'definition.and[1].count'],
    [{ or: [{ event: 'A', where: 'x ==' }] }, 'definition.or[0].where'],
    [{ not: { trait: 'plan', op: 'like', value: 'x' } }, 'definition.not.op'],
    [{ and: [] }, 'definition.and'],
    [{ event: 'A', trait: 'b' }, 'definition'],
    [{ and: [{ trait: 'age', op: '>', value: '30' }] }, 'definition.and[0].value'],
    [{ and: [{ trait: 'age', op: 'exists', value: 1 }] }, 'definition.and[0].value'],
    [{ and: [{ trait: 'age', op: 'in', value: 'x' }] }, 'definition.and[0].value'],
    [{ and: [{ trait: 'age', op: '=' }] }, 'definition.and[0].value'],
    [{ and: [{ event: 'A', within: '30 days' }] }, 'definition.and[0].within'],
    [{ and: [{ event: 'A', colour: 'red' }] }, 'definition.and[0]'],
    [{ and: ['nope'] }, 'definition.and[0]'],
  ])('names the offending node of %j: %s', (definition, path) => {
    const res = Audience.safeParse({ key: 'a', name: 'A', definition });
    expect(res.success).toBe(false);
    const paths = res.error!.issues.map((i) => formatPath(i.path as (string | number)[]));
    expect(paths).toContain(path);
  });

  it('limits the size of a definition', () => {
    const wide = { or: Array.from({ length: 60 }, () => ({ event: 'A' })) };
    expect(issuesOf(audience(wide)).join()).toMatch(/at most 50 conditions/);
    let deep: unknown = { event: 'A' };
    for (let i = 0; i < 12; i++) deep = { not: deep };
    expect(issuesOf(audience(deep)).join()).toMatch(/nest at most 10 deep/);
  });
});

describe('audience references', () => {
  const def = (key: string, definition: Audience['definition']) => ({ key, definition });
  it('finds unknown keys and cycles, naming the node', () => {
    const others = new Map([
      ['b', def('b', { audience: 'c' })],
      ['c', def('c', { and: [{ event: 'E' }, { audience: 'a' }] })],
    ]);
    const issues = checkReferences(
      def('a', { or: [{ audience: 'b' }, { audience: 'zzz' }, { computed: 'nope', op: 'exists' }] }),
      others,
      new Set(['orders']),
    );
    expect(issues.map((i) => `${formatPath(i.path)}: ${i.message}`)).toEqual([
      'definition.or[0].audience: reference cycle: a → b → c → a',
      'definition.or[1].audience: unknown audience "zzz"',
      'definition.or[2].computed: unknown computed trait "nope"',
    ]);
    expect(checkReferences(def('a', { audience: 'a' }), new Map(), new Set())[0].message).toMatch(/a → a/);
    expect(checkReferences(def('a', { audience: 'b' }), new Map([['b', def('b', { event: 'E' })]]), new Set())).toEqual(
      [],
    );
  });

  it('sorts audiences after those they reference', () => {
    const sorted = topoSortAudiences([
      def('x', { audience: 'y' }),
      def('y', { audience: 'z' }),
      def('z', { event: 'E' }),
    ]);
    expect(sorted.map((a) => a.key)).toEqual(['z', 'y', 'x']);
  });
});
