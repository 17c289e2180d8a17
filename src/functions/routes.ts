import { and, desc, eq, inArray } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { type AdminEnv, requireScope } from '../admin/auth';
import { db } from '../db/client';
import { destinations } from '../db/destinations-schema';
import {
  type DeclaredSetting,
  type FunctionInstanceRow,
  type FunctionRow,
  functionInstanceStats,
  functionInstances,
  functionInvocations,
  functions,
  functionVersions,
  sources,
} from '../db/schema';
import { badRequest, notFound } from '../lib/errors';
import { parseJson } from '../lib/http/body';
import { apiDoc } from '../lib/http/openapi';
import { ulid } from '../lib/ids';
import { sealSecretValues } from '../privacy/secrets';
import { FunctionSyntaxError, instrument } from './instrument';
import { bumpFunctions, clearFunctionsCache, findFunction, settingsProblems, splitSettings } from './store';
import { runTest, TestInput } from './test-run';

const read = requireScope('functions:read');
const write = requireScope('functions:write');

const Setting = z.strictObject({
  name: z.string().regex(/^[A-Za-z_$][\w$]{0,63}$/, 'a setting name is an identifier of at most 64 characters'),
  type: z.enum(['string', 'text', 'number', 'boolean', 'array', 'map']).default('string'),
  required: z.boolean().default(false),
  secret: z.boolean().default(false),
  description: z.string().max(500).optional(),
});
const Code = z
  .string()
  .min(1)
  .max(256 * 1024)
  .describe('JavaScript with Segment handlers (onRequest, onTrack, …)');
const FunctionInput = z.strictObject({
  name: z.string().min(1).max(200),
  kind: z.enum(['source', 'insert', 'destination']).describe('source: onRequest; insert/destination: onTrack…'),
  code: Code,
  settings: z.array(Setting).max(50).default([]).describe('Declared settings; `secret` values are never returned'),
});
const VersionInput = z.strictObject({
  code: Code,
  name: z.string().min(1).max(200).optional(),
  settings: z.array(Setting).max(50).optional().describe('Declared settings; default: the previous version’s'),
});
const InstanceInput = z.strictObject({
  sourceId: z.string().min(1).max(100).optional(),
  destinationId: z.string().min(1).max(100).optional(),
  version: z.number().int().positive().optional().describe('Pin a version; default: follow the latest'),
  settings: z.record(z.string(), z.unknown()).default({}),
});

function checkCode(code: string) {
  try {
    instrument(code);
  } catch (err) {
    if (err instanceof FunctionSyntaxError) throw badRequest(`The code does not parse: ${err.message}`);
    throw err;
  }
}

function uniqueNames(settings: DeclaredSetting[]) {
  if (new Set(settings.map((s) => s.name)).size !== settings.length) throw badRequest('Setting names must be unique');
}

async function loadFunction(d1: D1Database, id: string): Promise<FunctionRow> {
  const row = await findFunction(d1, id);
  if (!row) throw notFound(`Function ${id}`);
  return row;
}

async function latest(d1: D1Database, fn: FunctionRow) {
  const v = await db(d1)
    .select()
    .from(functionVersions)
    .where(and(eq(functionVersions.functionId, fn.id), eq(functionVersions.version, fn.latestVersion)))
    .get();
  if (!v) throw notFound(`Version ${fn.latestVersion} of function ${fn.id}`);
  return v;
}

/** An instance as the API shows it: secret values never leave D1, only their names. */
const instanceView = (r: FunctionInstanceRow) => ({
  id: r.id,
  functionId: r.functionId,
  version: r.version,
  sourceId: r.sourceId,
  destinationId: r.destinationId,
  settings: r.settings,
  secretSettings: Object.keys(r.secretSettings),
  enabled: r.enabled,
  url: null as string | null,
  createdAt: r.createdAt,
});

const doc = apiDoc('Functions', {
  list: { summary: 'List functions' },
  create: { summary: 'Create a function (version 1)', body: FunctionInput, status: 201 },
  get: { summary: 'Get a function: its latest code, settings and instances', errors: [404] },
  update: { summary: 'Save a new version (older versions are kept)', body: VersionInput, errors: [404] },
  versions: { summary: 'List the versions of a function', errors: [404] },
  remove: { summary: 'Delete a function, its versions and instances', errors: [404] },
  instance: {
    summary: 'Bind the function to a source or destination with setting values',
    body: InstanceInput,
    status: 201,
    errors: [404],
  },
  removeInstance: { summary: 'Delete an instance', errors: [404] },
  test: {
    summary: 'Run the function on a sample request or event, without side effects',
    body: TestInput,
    errors: [404],
  },
  invocations: { summary: 'The last invocations per instance, with counts', errors: [404] },
});

/** `/api/functions`: customers' code, versioned, bound to sources and destinations. */
export const functionsApi = new Hono<AdminEnv>()
  .get('/', doc.list, read, async (c) => {
    const rows = await db(c.env.DB).select().from(functions).orderBy(functions.createdAt).all();
    return c.json({ data: rows });
  })
  .post('/', doc.create, write, async (c) => {
    const input = await parseJson(c.req.raw, FunctionInput);
    checkCode(input.code);
    uniqueNames(input.settings);
    const now = new Date().toISOString();
    const row: FunctionRow = {
      id: `fn_${ulid()}`,
      name: input.name,
      kind: input.kind,
      latestVersion: 1,
      createdAt: now,
      updatedAt: now,
    };
    const d = db(c.env.DB);
    await d.batch([
      d.insert(functions).values(row),
      d
        .insert(functionVersions)
        .values({ functionId: row.id, version: 1, code: input.code, settings: input.settings, createdAt: now }),
      bumpFunctions(c.env.DB),
    ]);
    clearFunctionsCache();
    return c.json({ ...row, version: 1 }, 201);
  })
  .get('/:id', doc.get, read, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const v = await latest(c.env.DB, fn);
    const instances = await db(c.env.DB)
      .select()
      .from(functionInstances)
      .where(eq(functionInstances.functionId, fn.id))
      .all();
    const origin = new URL(c.req.url).origin;
    return c.json({
      ...fn,
      version: v.version,
      code: v.code,
      settings: v.settings,
      instances: instances.map((i) => ({
        ...instanceView(i),
        url: fn.kind === 'source' ? `${origin}/v1/functions/${i.id}` : null,
      })),
    });
  })
  .put('/:id', doc.update, write, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const input = await parseJson(c.req.raw, VersionInput);
    checkCode(input.code);
    const settings = input.settings ?? (await latest(c.env.DB, fn)).settings;
    uniqueNames(settings);
    const version = fn.latestVersion + 1;
    const now = new Date().toISOString();
    const d = db(c.env.DB);
    await d.batch([
      d.insert(functionVersions).values({ functionId: fn.id, version, code: input.code, settings, createdAt: now }),
      d
        .update(functions)
        .set({ latestVersion: version, name: input.name ?? fn.name, updatedAt: now })
        .where(eq(functions.id, fn.id)),
      bumpFunctions(c.env.DB),
    ]);
    clearFunctionsCache();
    return c.json({ id: fn.id, version });
  })
  .get('/:id/versions', doc.versions, read, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const rows = await db(c.env.DB)
      .select()
      .from(functionVersions)
      .where(eq(functionVersions.functionId, fn.id))
      .orderBy(desc(functionVersions.version))
      .all();
    return c.json({ data: rows });
  })
  .delete('/:id', doc.remove, write, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const d = db(c.env.DB);
    const instances = await d.select().from(functionInstances).where(eq(functionInstances.functionId, fn.id)).all();
    const ownDestinations =
      fn.kind === 'destination' ? instances.flatMap((i) => (i.destinationId ? [i.destinationId] : [])) : [];
    await d.batch([
      d.delete(functionInstances).where(eq(functionInstances.functionId, fn.id)),
      d.delete(functionVersions).where(eq(functionVersions.functionId, fn.id)),
      d.delete(functions).where(eq(functions.id, fn.id)),
      d.delete(destinations).where(and(eq(destinations.type, 'function'), inArray(destinations.id, ownDestinations))),
      bumpFunctions(c.env.DB),
    ]);
    clearFunctionsCache();
    return c.json({ deleted: fn.id });
  })
  .post('/:id/instances', doc.instance, write, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const input = await parseJson(c.req.raw, InstanceInput);
    const d = db(c.env.DB);
    const pinned = input.version
      ? await d
          .select()
          .from(functionVersions)
          .where(and(eq(functionVersions.functionId, fn.id), eq(functionVersions.version, input.version)))
          .get()
      : await latest(c.env.DB, fn);
    if (!pinned) throw notFound(`Version ${input.version} of function ${fn.id}`);
    const problems = settingsProblems(pinned.settings, input.settings);
    if (problems.length) throw badRequest(problems.join('; '));
    if (fn.kind !== 'insert' && input.destinationId) {
      throw badRequest('Only insert functions bind to a destination; a destination function is one (its instance)');
    }
    if (fn.kind === 'insert' && !!input.sourceId === !!input.destinationId) {
      throw badRequest('An insert function instance names exactly one of sourceId or destinationId');
    }
    if (fn.kind === 'source' && !input.sourceId)
      throw badRequest('A source function instance needs the sourceId its events enter');
    if (
      input.sourceId &&
      !(await d.select({ id: sources.id }).from(sources).where(eq(sources.id, input.sourceId)).get())
    ) {
      throw notFound(`Source ${input.sourceId}`);
    }
    if (
      input.destinationId &&
      !(await d
        .select({ id: destinations.id })
        .from(destinations)
        .where(eq(destinations.id, input.destinationId))
        .get())
    ) {
      throw notFound(`Destination ${input.destinationId}`);
    }
    const { plain, secrets } = splitSettings(pinned.settings, input.settings);
    const now = new Date().toISOString();
    const id = `fi_${ulid()}`;
    const row: FunctionInstanceRow = {
      id,
      functionId: fn.id,
      version: input.version ?? null,
      sourceId: input.sourceId ?? null,
      destinationId: input.destinationId ?? null,
      settings: plain,
      secretSettings: await sealSecretValues(c.env, secrets), // sealed at rest, like destination secrets
      enabled: true,
      createdAt: now,
      updatedAt: now,
    };
    const statements = [];
    if (fn.kind === 'destination') {
      // A destination function is a destination: routing, filters, consent, retries and the
      // delivery log apply to it like to any other (src/destinations/function).
      row.destinationId = `dst_${ulid()}`;
      statements.push(
        d.insert(destinations).values({
          id: row.destinationId,
          type: 'function',
          name: fn.name,
          enabled: true,
          sourceIds: input.sourceId ? [input.sourceId] : ['*'],
          settings: { instanceId: id },
          filters: [],
          consentCategories: null,
          createdAt: now,
          updatedAt: now,
        }),
      );
    }
    await d.batch([d.insert(functionInstances).values(row), ...statements, bumpFunctions(c.env.DB)]);
    clearFunctionsCache();
    const url = fn.kind === 'source' ? `${new URL(c.req.url).origin}/v1/functions/${id}` : null;
    return c.json({ ...instanceView(row), url }, 201);
  })
  .delete('/:id/instances/:instanceId', doc.removeInstance, write, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const d = db(c.env.DB);
    const row = await d
      .select()
      .from(functionInstances)
      .where(and(eq(functionInstances.id, c.req.param('instanceId')), eq(functionInstances.functionId, fn.id)))
      .get();
    if (!row) throw notFound(`Instance ${c.req.param('instanceId')}`);
    await d.batch([
      d.delete(functionInstances).where(eq(functionInstances.id, row.id)),
      d
        .delete(destinations)
        .where(and(eq(destinations.type, 'function'), eq(destinations.id, row.destinationId ?? ''))),
      bumpFunctions(c.env.DB),
    ]);
    clearFunctionsCache();
    return c.json({ deleted: row.id });
  })
  .post('/:id/test', doc.test, write, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const input = await parseJson(c.req.raw, TestInput);
    if (input.code) checkCode(input.code);
    return c.json(await runTest(c.env, fn, await latest(c.env.DB, fn), input));
  })
  .get('/:id/invocations', doc.invocations, read, async (c) => {
    const fn = await loadFunction(c.env.DB, c.req.param('id'));
    const d = db(c.env.DB);
    const instances = await d.select().from(functionInstances).where(eq(functionInstances.functionId, fn.id)).all();
    const ids = instances.map((i) => i.id);
    const [stats, rows] = await Promise.all([
      d.select().from(functionInstanceStats).where(inArray(functionInstanceStats.instanceId, ids)).all(),
      d
        .select()
        .from(functionInvocations)
        .where(eq(functionInvocations.functionId, fn.id))
        .orderBy(desc(functionInvocations.id))
        .limit(500)
        .all(),
    ]);
    return c.json({
      data: instances.map((i) => {
        const s = stats.find((x) => x.instanceId === i.id);
        return {
          instanceId: i.id,
          // Never disabled behind anyone's back: an instance runs until someone deletes it.
          enabled: i.enabled,
          invocations: s?.invocations ?? 0,
          errors: s?.errors ?? 0,
          lastError: s?.lastError ?? null,
          lastErrorAt: s?.lastErrorAt ?? null,
          recent: rows
            .filter((r) => r.instanceId === i.id)
            .map((r) => ({
              at: r.at,
              version: r.version,
              status: r.status,
              durationMs: r.durationMs,
              error: r.error,
              logs: r.logs,
            })),
        };
      }),
    });
  });
