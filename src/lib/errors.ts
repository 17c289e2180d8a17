import type { ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** The one error type routes throw; `onError` renders it as `{ error: { code, message } }`. */
export class ApiError extends HTTPException {
  readonly code: string;
  readonly details?: unknown;
  constructor(status: ContentfulStatusCode, code: string, message: string, details?: unknown) {
    super(status, { message });
    this.code = code;
    this.details = details;
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new ApiError(400, 'invalid_request', message, details);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const unauthorized = (message = 'Missing or invalid credentials') => new ApiError(401, 'unauthorized', message);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const tooLarge = (message: string) => new ApiError(413, 'payload_too_large', message);

/** Shape shared by every error answer. */
export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Renders every thrown error; unknown errors become a 500 without leaking internals. */
export const onError: ErrorHandler = (err, c) => {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.details), err.status);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const code = status === 401 ? 'unauthorized' : status === 413 ? 'payload_too_large' : 'http_error';
    return c.json(errorBody(code, err.message || 'Request failed'), status);
  }
  console.error('unhandled error', err);
  return c.json(errorBody('internal_error', 'Internal error; the request can be retried'), 500);
};
