import type { z } from 'zod';
import { describeIssues } from '../ingest/spec';
import { ApiError, badRequest } from '../lib/errors';

const MAX_ADMIN_BODY = 256 * 1024;

/** Parses an admin request body with a zod schema; every failure is a 400 that says why. */
export async function parseJson<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  const text = await req.text();
  if (text.length > MAX_ADMIN_BODY) throw new ApiError(413, 'payload_too_large', 'Request body is too large');
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
