import { describe, expect, it } from 'vitest';
import { compileFql, evaluateFql, FqlError, parseFql } from './index';

const doc = {
  event: 'Button Clicked',
  type: 'track',
  context: { library: { name: 'analytics.js', version: '1.0' } },
  properties: { features: ['discounts', 'dark-mode'] },
};
const run = (src: string, event: unknown = doc) => compileFql(src)(event);

function errorOf(src: string): FqlError {
  try {
    parseFql(src);
  } catch (e) {
    if (e instanceof FqlError) return e;
    throw e;
  }
  throw new Error(`expected ${src} to fail`);
}

describe('FQL: Segment documentation examples', () => {
  it.each([
    ["event = 'Button Clicked'", true],
    ["event = 'Screen Tapped'", false],
    ["context.path.path = '/login'", false],
    ["type = 'identify' or type = 'track'", true],
    ["event = 'Button Clicked' and type = 'track'", true],
    ["match( context.library.version, '1.*' )", true],
    ["match( context.library.version, '2.*' )", false],
    ["type = 'track' and ( event = 'Click' or match( event, 'Button *' ) )", true],
    ["!contains( context.library.name, 'js' )", false],
    ["'dark-mode' in properties.features", true],
    ["'blink' in properties.features", false],
    ["!( type in ['track', 'identify'] )", false],
  ])('%s → %s', (src, expected) => {
    expect(run(src)).toBe(expected);
  });

  it.each([
    ["match('abcd', 'a*d')", true],
    ["match('', '*')", true],
    ["match('abc', 'ab')", false],
    ["match('abcd', 'a??d')", true],
    ["match('abcd', '*d')", true],
    ["match('ab*d', 'ab\\\\*d')", true],
    ["match('abxd', 'ab\\\\*d')", false],
    ["match('abCd', 'ab[cC]d')", true],
    ["match('abcd', 'ab[a-z]d')", true],
    ["match('abcd', 'ab[A-Z]d')", false],
    ["match('a/b/c', 'a*')", true],
    ["match('abcd', 'ab[^c]d')", false],
    ["match('abcd', 'ab[c')", false],
  ])('glob %s → %s', (src, expected) => {
    expect(run(src, {})).toBe(expected);
  });

  it('matches long adversarial globs in linear-ish time', () => {
    const started = Date.now();
    expect(run(`match(properties.s, '${'*a'.repeat(30)}*b')`, { properties: { s: 'a'.repeat(5000) } })).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('FQL: precedence and grouping', () => {
  it('binds and tighter than or', () => {
    expect(run('true or false and false')).toBe(true);
    expect(run('(true or false) and false')).toBe(false);
    const tree = parseFql('a = 1 or b = 2 and c = 3');
    expect(tree).toMatchObject({ type: 'logical', op: 'or', right: { type: 'logical', op: 'and' } });
  });

  it('applies ! to the nearest operand', () => {
    expect(run('!false and false')).toBe(false);
    expect(run('!(false and false)')).toBe(true);
    expect(run('!!true')).toBe(true);
  });

  it('is left associative for chains of and/or', () => {
    expect(parseFql('a or b or c')).toMatchObject({
      type: 'logical',
      left: { type: 'logical' },
      right: { type: 'path' },
    });
  });
});

describe('FQL: null semantics for missing paths', () => {
  const event = { properties: { total: 60, zero: 0, empty: '', nested: { list: [1, 2] } }, userId: null };
  it.each([
    ['properties.missing = null', true],
    ['properties.missing.deeper = null', true],
    ['userId = null', true],
    ['properties.missing != null', false],
    ['properties.missing > 1', false],
    ['properties.missing <= 1', false],
    ['!properties.missing', true],
    ['properties.missing', false],
    ['properties.missing and true', false],
    ['properties.missing or true', true],
    ["contains(properties.missing, 'a')", false],
    ['length(properties.missing) = 0', true],
    ['lowercase(properties.missing) = null', true],
    ["typeof(properties.missing) = 'null'", true],
    ["match(properties.missing, '*')", false],
    ['properties.nested.list.1 = 2', true],
    ['properties.nested.list.5 = null', true],
    ['properties.total.x = null', true],
    ['constructor = null', true],
    ['properties.__proto__ = null', true],
  ])('%s → %s', (src, expected) => {
    expect(run(src, event)).toBe(expected);
  });
});

describe('FQL: types are strict', () => {
  const event = { properties: { total: 60, str: '60', flag: true, tags: ['a', 'b'], obj: { a: 1, b: 2 } } };
  it.each([
    ["properties.total = '60'", false],
    ['properties.total != "60"', true],
    ["properties.str > '5'", false],
    ['properties.total > 50', true],
    ['properties.total >= 60.0', true],
    ['properties.total < -1', false],
    ['properties.flag', true],
    ['properties.flag = true', true],
    ["properties.tags = ['a', 'b']", true],
    ["properties.tags = ['b', 'a']", false],
    ["properties.tags != ['a']", true],
    ['properties.total in [1, 60]', true],
    ["properties.total in ['60']", false],
    ["'a' in properties.str", false],
    ["typeof(properties.total) = 'number'", true],
    ["typeof(properties.flag) = 'bool'", true],
    ["typeof(properties.tags) = 'list'", true],
    ["typeof(properties.obj) = 'object'", true],
    ['number(properties.str) = 60', true],
    ["number('x') = null", true],
    ["string(properties.total) = '60'", true],
    ["bool('true') and !bool('nope') and bool(1) and !bool(0)", true],
  ])('%s → %s', (src, expected) => {
    expect(run(src, event)).toBe(expected);
  });
});

describe('FQL: functions', () => {
  const event = { traits: { email: 'Ann@Example.com', name: 'ann lee', kana: 'ア' } };
  it.each([
    ["lowercase(traits.email) = 'ann@example.com'", true],
    ["uppercase(traits.email) = 'ANN@EXAMPLE.COM'", true],
    ["snakecase(traits.name) = 'ann_lee'", true],
    ["kebabcase(traits.name) = 'ann-lee'", true],
    ["titlecase(traits.name) = 'Ann Lee'", true],
    ['length(traits.kana) = 3', true],
    ["length(['a', 'b']) = 2", true],
    ["contains(lowercase(traits.email), 'example')", true],
    ["match(lowercase(traits.email), '*@example.com')", true],
    ['length(traits.email) > 0', true],
    ['lowercase(traits.email)', false],
  ])('%s → %s', (src, expected) => {
    expect(run(src, event)).toBe(expected);
  });
});

describe('FQL: field paths', () => {
  it('escapes characters outside a-z A-Z 0-9 _ - with a backslash', () => {
    const event = { properties: { 'product 1': { price: '19.99' }, 'a-b': 1, and: 'kw' } };
    expect(run("properties.product\\ 1.price = '19.99'", event)).toBe(true);
    expect(run('properties.a-b = 1', event)).toBe(true);
    expect(run("properties.\\and = 'kw'", event)).toBe(true);
    expect(parseFql('context.device.type')).toEqual({ type: 'path', path: ['context', 'device', 'type'], pos: 0 });
  });
});

describe('FQL: errors name the problem and its position', () => {
  it.each([
    ['', 0, /Empty expression/],
    ["userId = oops'", 13, /Unterminated string/],
    ['event = ', 8, /Expected a value/],
    ["(event = 'a'", 12, /Expected '\)' to close '\(' opened at position 0/],
    ["event == 'a'", 6, /uses '=' for equality/],
    ['a && b', 2, /use 'and'/],
    ['frobnicate(event)', 0, /Unknown function 'frobnicate'/],
    ['contains(event)', 0, /contains\(\) takes 2 arguments, got 1/],
    ['a = 1 = 2', 6, /cannot be chained/],
    ["event = 'a' event", 12, /Unexpected 'event' after a complete expression/],
    ['a = 1 and', 9, /Expected a value/],
    ['properties.', 10, /cannot end with/],
    ['properties..x', 11, /Empty field name/],
    ['price = 12abc', 8, /Invalid number/],
    ['traits.$email = 1', 7, /Unexpected character '\$' in field path/],
    ['[1, 2', 5, /Expected ',' or '\]'/],
    ['and = 1', 0, /Expected a value before 'and'/],
  ])('%j fails at %i', (src, position, message) => {
    const err = errorOf(src);
    expect(err).toBeInstanceOf(Error);
    expect(err.position).toBe(position);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`position ${position}`);
  });

  it('limits nesting depth', () => {
    expect(errorOf(`${'('.repeat(100)}true${')'.repeat(100)}`).message).toMatch(/nests deeper/);
  });

  it('evaluateFql works on a parsed tree and never throws on odd events', () => {
    const node = parseFql("properties.total > 50 and contains(event, 'Order')");
    expect(evaluateFql(node, { event: 'Order Completed', properties: { total: 51 } })).toBe(true);
    for (const odd of [null, undefined, 42, 'str', [], { properties: null }])
      expect(evaluateFql(node, odd)).toBe(false);
  });
});
