// The OpenAPI 3.1 document of the admin API (`/api/*`) and the Profile API (`/v1/spaces/*`), served
// at `GET /api/openapi.json`. Routes describe themselves with one `doc(...)` middleware each
// (hono-openapi's `describeRoute`); request bodies are the zod schemas the handlers parse with,
// converted by zod's own JSON Schema output, so the document cannot drift from the validation.
import type { Env, Hono, MiddlewareHandler } from 'hono';
import { describeRoute, openAPIRouteHandler, resolver } from 'hono-openapi';
import type { OpenAPIV3_1 } from 'openapi-types';
import { z } from 'zod';

/** The body of every error answer (`errorBody` in src/lib/errors.ts). */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code, e.g. invalid_request, not_found'),
    message: z.string().describe('What went wrong, for people'),
    details: z.unknown().optional().describe('Validation issues, when there are any'),
  }),
});

/** How a caller authenticates; the same token works with either scheme (src/admin/auth.ts). */
export type AuthScheme = 'bearer' | 'basic';

export interface RouteDoc {
  description?: string;
  /** The zod schema the handler parses the JSON body with. */
  body?: z.ZodType;
  /** The body may be left out (e.g. a test send that uses a sample event). */
  bodyOptional?: boolean;
  /** Query parameters the handler reads: name → description. */
  query?: Record<string, string>;
  /** Status of a successful answer (default 200) and what it holds. */
  status?: number;
  returns?: string;
  /** Error statuses beyond 400/401/403, e.g. 404 for a missing resource, 409 for a conflict. */
  errors?: number[];
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request (`invalid_request`, `invalid_json`, …); `details` lists the issues',
  401: 'Missing or invalid token',
  403: 'The token lacks the scope this route needs',
  404: 'No such resource',
  409: 'Conflict with the current state (see the message)',
  413: 'Request body is too large',
};

const SECURITY: Record<AuthScheme, OpenAPIV3_1.SecurityRequirementObject[]> = {
  // Either scheme is accepted everywhere; the order says which one the API is documented with.
  bearer: [{ adminToken: [] }, { basicToken: [] }],
  basic: [{ basicToken: [] }, { adminToken: [] }],
};

type Operation = Parameters<typeof describeRoute>[0];
type Responses = NonNullable<Operation['responses']>;

// Every error answer refers to one `Error` schema in components instead of repeating it.
const errorResponse = (status: number): Responses[string] => ({
  description: ERROR_TEXT[status] ?? 'Error',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

function errorSchema(): OpenAPIV3_1.SchemaObject {
  const { $schema: _, ...schema } = z.toJSONSchema(ErrorBody);
  return schema as OpenAPIV3_1.SchemaObject;
}

/** Builds the OpenAPI operation of one route (pure; `apiDoc` wraps it in a middleware). */
export function operation(tag: string, auth: AuthScheme, summary: string, doc: RouteDoc = {}): Operation {
  const status = doc.status ?? 200;
  const responses: Responses = {
    [status]:
      status === 204
        ? { description: doc.returns ?? 'Done; no content' }
        : { description: doc.returns ?? 'OK', content: { 'application/json': {} } },
  };
  const errors = new Set([401, 403, ...(doc.errors ?? [])]);
  if (doc.body || doc.query) errors.add(400);
  if (doc.body) errors.add(413);
  for (const code of [...errors].sort((a, b) => a - b)) responses[code] = errorResponse(code);
  return {
    tags: [tag],
    summary,
    ...(doc.description ? { description: doc.description } : {}),
    security: SECURITY[auth],
    parameters: Object.entries(doc.query ?? {}).map(
      ([name, description]): OpenAPIV3_1.ParameterObject => ({
        name,
        in: 'query',
        required: false,
        description,
        schema: { type: 'string' },
      }),
    ),
    ...(doc.body
      ? {
          requestBody: {
            required: !doc.bodyOptional,
            content: { 'application/json': { schema: resolver(doc.body, { io: 'input' }) } },
          },
        }
      : {}),
    responses,
  };
}

/** One route's description: its summary plus the optional parts of `RouteDoc`. */
export type RouteDocs<K extends string> = Record<K, RouteDoc & { summary: string }>;

/**
 * The docs of one area, one middleware per route: `const doc = apiDoc('Sources', { list: {...} })`,
 * then `.get('/', doc.list, requireScope(…), handler)`. Each middleware only carries its
 * description (hono-openapi reads it from `app.routes`) and passes every request straight on.
 */
export function apiDoc<K extends string>(
  tag: string,
  routes: RouteDocs<K>,
  auth: AuthScheme = 'bearer',
): Record<K, MiddlewareHandler> {
  const out = {} as Record<K, MiddlewareHandler>;
  for (const key of Object.keys(routes) as K[]) {
    const { summary, ...doc } = routes[key];
    out[key] = describeRoute(operation(tag, auth, summary, doc));
  }
  return out;
}

const TAGS: OpenAPIV3_1.TagObject[] = [
  { name: 'Sources', description: 'Sources and write keys; scopes sources:read, sources:write' },
  { name: 'Ingest', description: 'Events the ingest pipeline could not process; scopes sources:read, sources:write' },
  {
    name: 'Usage',
    description: 'What events cost: billable units and estimated dollars (usage meter); scope sources:read',
  },
  { name: 'Destinations', description: 'Destinations, test sends, health, failures and replay; scopes destinations:*' },
  {
    name: 'Audiences',
    description:
      'Audiences and their members; scopes engage:read, engage:write. `definition` is the condition ' +
      'tree (src/audiences/conditions.ts), checked node by node, so its schema here is open',
  },
  { name: 'Computed traits', description: 'Computed traits; scopes engage:read, engage:write' },
  {
    name: 'Tracking plans',
    description: 'Tracking plans, schema controls, observed schema and violations; scopes governance:*',
  },
  {
    name: 'Transformations',
    description: 'Transformations of events at ingest or per destination; scopes governance:*',
  },
  { name: 'Tokens', description: 'Scoped API tokens; scope tokens:write' },
  { name: 'Audit', description: 'The hash-chained audit log; scope audit:read' },
  { name: 'Identity', description: 'Identity resolution settings and timings; scopes profiles:read, workspace:owner' },
  { name: 'Profiles', description: 'The profile directory; scope profiles:read' },
  {
    name: 'Profile API',
    description: "Segment's Profile API (same paths, parameters and shapes); any space id; scope profiles:read",
  },
  { name: 'Console', description: "The console's session: an HttpOnly cookie, and a CSRF token for changes" },
  {
    name: 'Insights',
    description: 'Trends, funnels, retention over unified profiles; scopes insights:read, insights:write',
  },
  {
    name: 'Functions',
    description: 'Source, insert and destination functions, instances, test runs, invocations; scopes functions:*',
  },
  {
    name: 'Archive',
    description: 'The Parquet event archive in R2 and replays of it; scopes archive:read, archive:write',
  },
  { name: 'Meta', description: 'This document' },
];

/** The handler of `GET /api/openapi.json` for `app` (generated on first request, then cached). */
export function openApiHandler<E extends Env>(app: Hono<E>): MiddlewareHandler<E> {
  return openAPIRouteHandler(app, {
    excludeStaticFile: false, // or openapi.json itself would be left out, for its dot
    documentation: {
      info: {
        title: 'Tessera admin and Profile API',
        version: '0.1.0',
        description:
          'Admin API of Tessera (a Segment-compatible CDP on Cloudflare Workers) and its Segment-compatible ' +
          'Profile API. Errors are `{ "error": { "code", "message" } }`.',
      },
      tags: TAGS,
      components: {
        schemas: { Error: errorSchema() },
        securitySchemes: {
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'An admin token (ADMIN_TOKEN has every scope): `Authorization: Bearer <token>`',
          },
          basicToken: {
            type: 'http',
            scheme: 'basic',
            description: 'Segment-style: the token as the Basic username, the password empty',
          },
        },
      },
    },
  });
}

/** Describes `GET /api/openapi.json` itself: public, so API tools can read it without a token. */
export const openApiDoc = describeRoute({
  tags: ['Meta'],
  summary: 'This OpenAPI 3.1 document',
  security: [],
  responses: { 200: { description: 'The OpenAPI document', content: { 'application/json': {} } } },
});
