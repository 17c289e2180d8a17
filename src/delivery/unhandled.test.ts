import { describe, expect, it } from 'vitest';
import { boundedJson, MAX_RECORD_CHARS, MAX_RECORD_DEPTH } from './unhandled';

describe('boundedJson', () => {
  it('records a body nested 100,000 levels deep, cut at a fixed depth', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    const text = boundedJson({ kind: 'event', event: { properties: deep } });
    let node = JSON.parse(text) as Record<string, unknown>;
    let depth = 0;
    while (typeof node === 'object' && node !== null) {
      node = (node.d ?? node.event ?? node.properties) as Record<string, unknown>;
      depth++;
    }
    expect(node).toBe('[nested too deep]');
    expect(depth).toBe(MAX_RECORD_DEPTH);
  });

  it('is plain JSON for ordinary bodies, and stays valid JSON when cut to size', () => {
    const body = { kind: 'event', event: { messageId: 'm1', properties: { a: [1, 'x', null] } } };
    expect(boundedJson(body)).toBe(JSON.stringify(body));
    expect(boundedJson({ n: 10n })).toBe('{"n":"10"}');
    const huge = boundedJson({ s: 'x'.repeat(MAX_RECORD_CHARS + 10) });
    expect(JSON.parse(huge).truncated.length).toBe(MAX_RECORD_CHARS);
  });
});
