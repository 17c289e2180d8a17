import { type CompareOp, FQL_FUNCTIONS, FqlError, type FqlFunction, type FqlNode } from './ast';
import { type Token, tokenize } from './tokenizer';

const COMPARE_OPS = new Set(['=', '!=', '<', '<=', '>', '>=']);
const KEYWORDS = new Set(['and', 'or', 'in', 'true', 'false', 'null']);
const MAX_DEPTH = 64;
const MAX_SOURCE = 10_000;

/**
 * Parses an FQL expression into a tree (never evaluates code). Precedence, loosest first:
 * `or`, `and`, comparison/`in` (not chainable), unary `!`, then literals, lists, calls, paths, `( … )`.
 */
export function parseFql(source: string): FqlNode {
  if (typeof source !== 'string') throw new FqlError('FQL must be a string', 0);
  if (source.length > MAX_SOURCE) throw new FqlError(`FQL is longer than ${MAX_SOURCE} characters`, MAX_SOURCE);
  const p = new Parser(tokenize(source));
  if (p.peek().kind === 'eof') throw new FqlError('Empty expression', 0);
  const node = p.or();
  const rest = p.peek();
  if (rest.kind !== 'eof') throw new FqlError(`Unexpected ${describe(rest)} after a complete expression`, rest.pos);
  return node;
}

function describe(t: Token): string {
  return t.kind === 'eof' ? 'end of input' : `'${t.text}'`;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.i];
  }

  private next(): Token {
    const t = this.tokens[this.i];
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private isWord(word: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text === word;
  }

  private expect(kind: Token['kind'], what: string, opened?: Token): Token {
    const t = this.peek();
    if (t.kind !== kind) {
      const ctx = opened ? ` to close '${opened.text}' opened at position ${opened.pos}` : '';
      throw new FqlError(`Expected ${what}${ctx}, found ${describe(t)}`, t.pos);
    }
    return this.next();
  }

  or(): FqlNode {
    let left = this.and();
    while (this.isWord('or')) {
      const pos = this.next().pos;
      left = { type: 'logical', op: 'or', left, right: this.and(), pos };
    }
    return left;
  }

  private and(): FqlNode {
    let left = this.comparison();
    while (this.isWord('and')) {
      const pos = this.next().pos;
      left = { type: 'logical', op: 'and', left, right: this.comparison(), pos };
    }
    return left;
  }

  private comparison(): FqlNode {
    const left = this.unary();
    const t = this.peek();
    let node: FqlNode;
    if (t.kind === 'op' && COMPARE_OPS.has(t.text)) {
      this.next();
      node = { type: 'compare', op: t.text as CompareOp, left, right: this.unary(), pos: t.pos };
    } else if (this.isWord('in')) {
      this.next();
      node = { type: 'in', left, right: this.unary(), pos: t.pos };
    } else {
      return left;
    }
    const after = this.peek();
    if ((after.kind === 'op' && COMPARE_OPS.has(after.text)) || this.isWord('in')) {
      throw new FqlError(`Comparisons cannot be chained; use parentheses or 'and' before '${after.text}'`, after.pos);
    }
    return node;
  }

  private unary(): FqlNode {
    const t = this.peek();
    if (t.kind === 'op' && t.text === '!') {
      this.next();
      return this.nested(() => ({ type: 'not', operand: this.unary(), pos: t.pos }));
    }
    return this.primary();
  }

  private nested(fn: () => FqlNode): FqlNode {
    if (++this.depth > MAX_DEPTH)
      throw new FqlError(`Expression nests deeper than ${MAX_DEPTH} levels`, this.peek().pos);
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  private primary(): FqlNode {
    const t = this.next();
    switch (t.kind) {
      case 'string':
      case 'number':
        return { type: 'literal', value: t.value!, pos: t.pos };
      case '(':
        return this.nested(() => {
          const inner = this.or();
          this.expect(')', "')'", t);
          return inner;
        });
      case '[':
        return this.nested(() => this.list(t));
      case 'ident':
        return this.identifier(t);
      default:
        throw new FqlError(`Expected a value, field path, function call or '(', found ${describe(t)}`, t.pos);
    }
  }

  private list(open: Token): FqlNode {
    const items: FqlNode[] = [];
    if (this.peek().kind !== ']') {
      do items.push(this.or());
      while (this.peek().kind === ',' && this.next());
    }
    this.expect(']', "',' or ']'", open);
    return { type: 'list', items, pos: open.pos };
  }

  private identifier(t: Token): FqlNode {
    if (t.text === 'true' || t.text === 'false') return { type: 'literal', value: t.text === 'true', pos: t.pos };
    if (t.text === 'null') return { type: 'literal', value: null, pos: t.pos };
    if (KEYWORDS.has(t.text)) throw new FqlError(`Expected a value before '${t.text}'`, t.pos);
    if (this.peek().kind !== '(') return { type: 'path', path: t.path!, pos: t.pos };
    if (!Object.hasOwn(FQL_FUNCTIONS, t.text)) {
      const known = Object.keys(FQL_FUNCTIONS).join(', ');
      throw new FqlError(`Unknown function '${t.text}'; FQL has ${known}`, t.pos);
    }
    const name = t.text as FqlFunction;
    const open = this.next();
    return this.nested(() => {
      const args: FqlNode[] = [];
      if (this.peek().kind !== ')') {
        do args.push(this.or());
        while (this.peek().kind === ',' && this.next());
      }
      this.expect(')', "',' or ')'", open);
      const arity = FQL_FUNCTIONS[name];
      if (args.length !== arity) {
        throw new FqlError(`${name}() takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args.length}`, t.pos);
      }
      return { type: 'call', name, args, pos: t.pos };
    });
  }
}
