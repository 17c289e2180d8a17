import type { FqlNode } from './ast';
import { evaluateFql } from './evaluate';
import { parseFql } from './parser';

export type { CompareOp, FqlFunction, FqlNode, FqlScalar } from './ast';
export { FQL_FUNCTIONS, FqlError } from './ast';
export { evaluateFql, evaluateFqlValue, fqlTypeOf, resolvePath } from './evaluate';
export { parseFql } from './parser';

/** Parses once and returns a predicate over events; throws FqlError for invalid source. */
export function compileFql(source: string): (event: unknown) => boolean {
  const node: FqlNode = parseFql(source);
  return (event) => evaluateFql(node, event);
}
