import { parse } from 'acorn';

/**
 * The name of the step counter the sandbox runtime imports into a function's module. An import
 * binding is immutable, so user code can neither reassign nor shadow-declare it at module level.
 */
export const TICK = '__tesseraTick';

interface Node {
  type: string;
  start: number;
  end: number;
  body?: Node | Node[];
  [key: string]: unknown;
}

const LOOPS = new Set(['WhileStatement', 'DoWhileStatement', 'ForStatement', 'ForInStatement', 'ForOfStatement']);

/** Thrown for code that does not parse; the message has the line and column. */
export class FunctionSyntaxError extends Error {}

/**
 * Adds a step check at the top of every loop body. Local workerd enforces no CPU limit and runs
 * every isolate on one thread, so `while (true) {}` in a dynamic isolate would freeze all of
 * Tessera: the counter makes such a loop throw after a step budget instead. (On Cloudflare the
 * loader's `limits.cpuMs` also applies.) Code generation from strings is disallowed inside the
 * sandbox (`eval`, `new Function`), so the code that runs is exactly the code instrumented here.
 */
export function instrument(code: string): string {
  let ast: Node;
  try {
    ast = parse(code, { ecmaVersion: 'latest', sourceType: 'module', locations: false }) as unknown as Node;
  } catch (err) {
    throw new FunctionSyntaxError(err instanceof Error ? err.message : String(err));
  }
  const inserts: { at: number; text: string }[] = [];
  // Iterative walk: hostile code may nest deeply enough to overflow a recursive one.
  const stack: Node[] = [ast];
  while (stack.length) {
    const node = stack.pop() as Node;
    if (LOOPS.has(node.type)) {
      const body = node.body as Node;
      if (body.type === 'BlockStatement') inserts.push({ at: body.start + 1, text: `${TICK}();` });
      else {
        inserts.push({ at: body.start, text: `{${TICK}();` });
        inserts.push({ at: body.end, text: '}' });
      }
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) {
        for (const v of value) if (isNode(v)) stack.push(v);
      } else if (isNode(value)) stack.push(value);
    }
  }
  inserts.sort((a, b) => b.at - a.at);
  let out = code;
  for (const { at, text } of inserts) out = out.slice(0, at) + text + out.slice(at);
  return out;
}

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && typeof (v as Node).type === 'string';
}

/** The handler names a Segment function may define, by kind. */
export const HANDLERS = {
  source: ['onRequest'],
  insert: ['onTrack', 'onIdentify', 'onPage', 'onScreen', 'onGroup', 'onAlias', 'onDelete'],
  destination: ['onTrack', 'onIdentify', 'onPage', 'onScreen', 'onGroup', 'onAlias', 'onDelete', 'onBatch'],
} as const;
export type FunctionKind = keyof typeof HANDLERS;
