// GET /api/openapi.json: an OpenAPI 3.1 document that covers every mounted admin and Profile API
// route (walked from app.routes, so a new route without a doc fails here) and whose request
// bodies are the zod schemas the handlers validate with.
import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CreateSource } from '../src/admin/sources';
import { app } from '../src/app';
import { Audience } from '../src/audiences/definitions';
import { IdentitySettings } from '../src/identity/settings';

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema?: Record<string, unknown> }> }>;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Record<string, unknown>>;
    securitySchemes: Record<string, { type: string; scheme: string }>;
  };
}

const DOCUMENTED = /^\/(api|v1\/spaces)(\/|$)/;
// A regex-constrained parameter (`:key{.+}`) is documented as plain `{key}`.
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');

/** Every concrete method+path Hono has mounted under /api and /v1/spaces (middleware `use` is ALL). */
function mountedRoutes(): string[] {
  const routes = app.routes
    .filter((r) => r.method !== 'ALL' && DOCUMENTED.test(r.path))
    .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`);
  return [...new Set(routes)].sort();
}

// POST/PUT/PATCH routes that take no body; every other write must document the body it parses.
const NO_BODY = new Set([
  'post /api/sources/{id}/disable',
  'post /api/sources/{id}/personalize-secret',
  'post /api/work/failures/replay',
  'post /api/tracking-plans/from-source/{sourceId}',
  'post /api/sources/{id}/enable',
  'post /api/ingest/failures/replay',
  'post /api/identity/stats/reset',
  'post /api/replays/{id}/cancel',
  'post /api/usage/flush',
]);

/** zod's own JSON Schema of a request body, as hono-openapi should embed it. */
const jsonSchema = (schema: z.ZodType) => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
};

describe('GET /api/openapi.json', () => {
  let doc: Document;
  beforeAll(async () => {
    const res = await SELF.fetch('http://tessera.test/api/openapi.json'); // no token: it is public
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    doc = await res.json<Document>();
  });

  const documented = () =>
    Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`))
      .sort();

  it('is OpenAPI 3.1 with the Bearer admin token and Basic (Profile API) schemes', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toMatch(/Tessera/);
    expect(doc.components.schemas.Error).toMatchObject({
      required: ['error'],
      properties: { error: { required: ['code', 'message'] } },
    });
    expect(doc.components.securitySchemes).toMatchObject({
      adminToken: { type: 'http', scheme: 'bearer' },
      basicToken: { type: 'http', scheme: 'basic' },
    });
  });

  it('documents every mounted /api and /v1/spaces route, and nothing else', () => {
    const mounted = mountedRoutes();
    expect(mounted.length).toBeGreaterThan(40);
    expect(mounted).toContain('get /v1/spaces/{space}/collections/{collection}/profiles/{id}/traits');
    expect(documented()).toEqual(mounted);
  });

  it('gives every operation a summary, a tag, its security and its path parameters', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method} ${path}`;
        expect(op.summary, where).toBeTruthy();
        expect(op.tags?.length, where).toBe(1);
        const params = (op.parameters ?? []).filter((p) => p.in === 'path');
        expect(params.map((p) => p.name).sort(), where).toEqual(pathParams);
        if (path === '/api/openapi.json') continue;
        expect(op.security, where).toBeDefined();
        const first = Object.keys(op.security?.[0] ?? {})[0];
        expect(first, where).toBe(path.startsWith('/v1/spaces/') ? 'basicToken' : 'adminToken');
        expect(op.responses['401']?.content?.['application/json']?.schema, where).toEqual({
          $ref: '#/components/schemas/Error',
        });
      }
    }
  });

  it('documents the request body of every write that takes one', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!['post', 'put', 'patch'].includes(method)) continue;
        const where = `${method} ${path}`;
        if (NO_BODY.has(where)) expect(op.requestBody, where).toBeUndefined();
        else expect(op.requestBody?.content['application/json']?.schema, where).toBeDefined();
      }
    }
  });

  it('takes the request bodies from the zod schemas the handlers validate with', () => {
    const body = (method: string, path: string) =>
      doc.paths[path][method].requestBody?.content['application/json'].schema;
    expect(body('post', '/api/sources')).toEqual(jsonSchema(CreateSource));
    expect(body('post', '/api/sources')).toMatchObject({
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
    });
    expect(body('put', '/api/identity/settings')).toEqual(jsonSchema(IdentitySettings));
    expect(body('post', '/api/audiences')).toEqual(jsonSchema(Audience));
    expect(doc.paths['/api/destinations/{id}/test'].post.requestBody?.required).toBe(false);
    expect(doc.paths['/api/sources'].post.requestBody?.required).toBe(true);
  });
});
