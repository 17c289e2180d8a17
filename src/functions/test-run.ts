import { z } from 'zod';
import type { FunctionRow, FunctionVersionRow } from '../db/schema';
import { handlerFor, invoke, type LoadableFunction } from './sandbox';

export const TestInput = z.strictObject({
  payload: z.unknown().optional().describe('Source functions: the JSON body of the sample request'),
  headers: z.record(z.string(), z.string()).optional().describe('Source functions: headers of the sample request'),
  event: z.record(z.string(), z.unknown()).optional().describe('Insert and destination functions: a Segment event'),
  settings: z.record(z.string(), z.unknown()).default({}),
  code: z
    .string()
    .min(1)
    .max(256 * 1024)
    .optional()
    .describe('Unsaved code to try instead of the latest version'),
});
export type TestInput = z.infer<typeof TestInput>;

async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return [...bytes.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Runs a function on a sample, without side effects: emitted events are returned, not ingested;
 * a destination function's requests are checked by the SSRF guard, recorded and answered 200
 * without being sent; nothing is recorded as an invocation of any instance.
 */
export async function runTest(env: Cloudflare.Env, fn: FunctionRow, version: FunctionVersionRow, input: TestInput) {
  const code = input.code ?? version.code;
  const loadable: LoadableFunction = {
    id: input.code ? `${fn.id}~${await digest(code)}` : fn.id,
    version: version.version,
    kind: fn.kind,
    code,
  };
  const event = input.event ?? { type: 'track', event: 'Test Event', userId: 'test-user', properties: {} };
  const type = typeof event.type === 'string' ? event.type : 'track';
  const inv =
    fn.kind === 'source'
      ? await invoke(env, loadable, {
          handler: 'onRequest',
          request: {
            url: 'https://tessera.test/v1/functions/test',
            method: 'POST',
            headers: Object.entries({ 'content-type': 'application/json', ...input.headers }),
            body: JSON.stringify(input.payload ?? {}),
          },
          settings: input.settings,
        })
      : await invoke(
          env,
          loadable,
          { handler: handlerFor(type), arg: event, settings: input.settings },
          { dryRun: true },
        );
  const output =
    fn.kind === 'source'
      ? { events: inv.emitted, requests: inv.requests }
      : fn.kind === 'insert'
        ? {
            event: inv.error ? undefined : (inv.result ?? null),
            dropped: !inv.error && inv.result == null,
            requests: inv.requests,
          }
        : { requests: inv.requests };
  return { output, logs: inv.logs, ...(inv.error ? { error: inv.error } : {}), durationMs: inv.durationMs };
}
