import { z } from 'zod';
import type { EngageDefinitionRow } from '../db/audiences-schema';
import { ApiError } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { type DefinitionIssue, formatPath } from './definitions';

/** A 400 that lists each problem with the path of its node, e.g. `definition.and[1].count: …`. */
export function invalidDefinition(issues: readonly DefinitionIssue[]): ApiError {
  const details = issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
  const shown = details.slice(0, 5).map((d) => (d.path ? `${d.path}: ${d.message}` : d.message));
  const more = details.length > 5 ? ` (and ${details.length - 5} more)` : '';
  return new ApiError(400, 'invalid_definition', `${shown.join('; ')}${more}`, details);
}

/** Reads a JSON body (size and syntax checked by parseJson) and validates it, naming offending nodes. */
export async function parseDefinitionBody<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  const body = await parseJson(req, z.unknown());
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw invalidDefinition(
      parsed.error.issues.map((i) => ({ path: i.path as (string | number)[], message: i.message })),
    );
  }
  return parsed.data;
}

/** How a stored definition is shown by the API: its body plus id, version and timestamps. */
export function definitionView(row: EngageDefinitionRow) {
  return {
    ...(JSON.parse(row.body) as Record<string, unknown>),
    id: row.id,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
