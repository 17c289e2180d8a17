/** A syntax error in an FQL expression; `position` is the 0-based character offset it points at. */
export class FqlError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} (at position ${position})`);
    this.name = 'FqlError';
    this.position = position;
  }
}

/** The functions FQL documents, with the number of arguments each takes. */
export const FQL_FUNCTIONS = {
  contains: 2,
  match: 2,
  length: 1,
  lowercase: 1,
  uppercase: 1,
  snakecase: 1,
  kebabcase: 1,
  titlecase: 1,
  typeof: 1,
  bool: 1,
  string: 1,
  number: 1,
} as const;
export type FqlFunction = keyof typeof FQL_FUNCTIONS;

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type FqlScalar = string | number | boolean | null;

/** The parsed form of an FQL expression. Every node remembers where it starts in the source. */
export type FqlNode =
  | { type: 'literal'; value: FqlScalar; pos: number }
  | { type: 'path'; path: string[]; pos: number }
  | { type: 'list'; items: FqlNode[]; pos: number }
  | { type: 'not'; operand: FqlNode; pos: number }
  | { type: 'logical'; op: 'and' | 'or'; left: FqlNode; right: FqlNode; pos: number }
  | { type: 'compare'; op: CompareOp; left: FqlNode; right: FqlNode; pos: number }
  | { type: 'in'; left: FqlNode; right: FqlNode; pos: number }
  | { type: 'call'; name: FqlFunction; args: FqlNode[]; pos: number };
