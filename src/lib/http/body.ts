import type { z } from 'zod';
import { ApiError, badRequest } from '../errors';

/** The largest JSON body an API route reads by default. */
export const MAX_JSON_BODY = 256 * 1024;

/** A zod error as one line a client can act on: the first five issues, each with its path. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * Parses a request body with a zod schema; every failure is a 4xx that says why: 413 above
 * `maxChars` (counted in UTF-16 units of the text, as before), 400 for bad JSON or a bad shape.
 */
export async function parseJson<T extends z.ZodType>(
  req: Request,
  schema: T,
  maxChars = MAX_JSON_BODY,
): Promise<z.infer<T>> {
  const text = await req.text();
  if (text.length > maxChars) throw new ApiError(413, 'payload_too_large', 'Request body is too large');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, 'invalid_json', 'Request body is not valid JSON');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badRequest(describeIssues(parsed.error), parsed.error.issues);
  return parsed.data;
}
