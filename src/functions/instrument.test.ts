import { describe, expect, it } from 'vitest';
import { FunctionSyntaxError, instrument } from './instrument';

describe('instrument', () => {
  it('puts a step check at the top of every loop body, braced or not', () => {
    const out = instrument('for (;;) {} while (x) y(); do { z() } while (0); for (const a of b) for (k in a) {}');
    expect(out).toBe(
      'for (;;) {__tesseraTick();} while (x) {__tesseraTick();y();} do {__tesseraTick(); z() } while (0); for (const a of b) {__tesseraTick();for (k in a) {__tesseraTick();}}',
    );
  });

  it('reaches loops inside functions, classes and arrow bodies', () => {
    const out = instrument(
      'async function onTrack(e) { const f = () => { while (1) {} }; class A { m() { for (;;); } } }',
    );
    expect(out.match(/__tesseraTick\(\)/g)).toHaveLength(2);
  });

  it('reports code that does not parse', () => {
    expect(() => instrument('function (')).toThrow(FunctionSyntaxError);
  });

  it('survives deep nesting without a recursive walk', () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    expect(() => instrument(`const a = ${deep};`)).not.toThrow(RangeError);
  });
});
