import { describe, expect, it } from 'vitest';
import { runInsertsOver } from '../src/functions/insert';
import { LIMITS } from '../src/functions/runtime';
import { invoke, type LoadableFunction } from '../src/functions/sandbox';
import type { LiveInstance } from '../src/functions/store';
import type { EnrichedEvent } from '../src/ingest/spec';
import { env, post } from './kit/workers';

let n = 0;
const fn = (kind: LoadableFunction['kind'], code: string): LoadableFunction => ({
  id: `fn_sandbox_${n++}`,
  version: 1,
  kind,
  code,
});
const track = { type: 'track', event: 'Clicked', messageId: 'm1', properties: {} };
const run = (f: LoadableFunction, arg: unknown = track, handler = 'onTrack') =>
  invoke(env, f, { handler, arg, settings: { apiKey: 'k' } });

/** Tessera still answers and other functions still run (nothing escaped, nothing stuck). */
async function stillWorking() {
  const res = await post('/v1/track', { userId: 'u', event: 'e' }, { authorization: `Basic ${btoa('nokey:')}` });
  expect(res.status).toBe(200);
  const ok = await run(fn('insert', 'async function onTrack(e) { e.properties.ok = true; return e }'));
  expect(ok.error).toBeUndefined();
  expect((ok.result as { properties: { ok: boolean } }).properties.ok).toBe(true);
}

describe('the sandbox', () => {
  it('runs a Segment insert function unchanged: settings, console, returned event', async () => {
    const inv = await run(
      fn(
        'insert',
        `async function onTrack(event, settings) {
           console.log('seen', event.event, settings.apiKey);
           event.properties.tagged = settings.apiKey;
           return event;
         }`,
      ),
    );
    expect(inv.error).toBeUndefined();
    expect(inv.result).toMatchObject({ properties: { tagged: 'k' } });
    expect(inv.logs).toEqual([{ level: 'log', message: 'seen Clicked k' }]);
  });

  it('has no Tessera binding, secret or env to read', async () => {
    const inv = await run(
      fn(
        'insert',
        `async function onTrack(e) {
           const workers = await import('cloudflare:workers');
           return { seen: [typeof env, typeof DB, typeof globalThis.ADMIN_TOKEN,
             Object.keys(workers.env ?? {}).length, Object.keys(globalThis.process?.env ?? {}).length,
             Object.keys(globalThis).filter((k) => /DB|QUEUE|LOADER|TOKEN|ARCHIVE|PROFILE/.test(k)).length] };
         }`,
      ),
    );
    expect(inv.result).toEqual({ seen: ['undefined', 'undefined', 'undefined', 0, 0, 0] });
    await stillWorking();
  });

  it('refuses fetch from an insert function (no network at all)', async () => {
    const inv = await run(fn('insert', `async function onTrack(e) { await fetch('https://example.com/'); return e }`));
    expect(inv.error?.message).toMatch(/not permitted to access the internet/);
    await stillWorking();
  });

  it('stops while(true){} with a clear error, and Tessera keeps working', async () => {
    const inv = await run(fn('insert', 'async function onTrack(e) { while (true) {} }'));
    expect(inv.error).toMatchObject({ name: 'LimitExceeded' });
    expect(inv.error?.message).toMatch(/more than 5000000 loop iterations/);
    await stillWorking();
  });

  it('stops a function that never answers at the wall-time limit', async () => {
    const inv = await run(fn('insert', 'async function onTrack(e) { await new Promise(() => {}) }'));
    expect(inv.error?.message).toMatch(new RegExp(`did not finish within ${LIMITS.wallMs} ms`));
    expect(inv.durationMs).toBeGreaterThanOrEqual(LIMITS.wallMs - 50);
    await stillWorking();
  }, 20_000);

  it('refuses a 1 GB allocation, in one piece or in many', async () => {
    for (const body of [
      'new ArrayBuffer(2 ** 30)',
      'new Uint8Array(2 ** 30)',
      'new Array(2 ** 27).fill(0)',
      "'x'.repeat(2 ** 29)",
      'const a = []; for (let i = 0; i < 1024; i++) a.push(new Uint8Array(2 ** 20))',
    ]) {
      const inv = await run(fn('insert', `async function onTrack(e) { ${body}; return e }`));
      expect(inv.error?.message, body).toMatch(/more than 64 MB of memory/);
    }
    await stillWorking();
  });

  it('has no eval or new Function', async () => {
    for (const body of ["eval('1 + 1')", "new Function('return 1')()", "(async () => {}).constructor('return 1')()"]) {
      const inv = await run(fn('insert', `async function onTrack(e) { return { v: ${body} } }`));
      expect(inv.error?.name, body).toBe('EvalError');
    }
  });

  it('keeps prototype tampering inside the sandbox', async () => {
    const inv = await run(
      fn(
        'insert',
        `async function onTrack(e) {
           Object.prototype.polluted = 'yes';
           Array.prototype.push = () => { throw new Error('hijacked') };
           JSON.parse = () => ({ hijacked: true });
           e.__proto__.admin = true;
           return e;
         }`,
      ),
    );
    expect(inv.error).toBeUndefined();
    const result = inv.result as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(result, 'polluted')).toBe(false);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    const list: number[] = [];
    list.push(1);
    expect(JSON.parse('{"a":1}')).toEqual({ a: 1 });
    await stillWorking();
  });

  it('reports a throw in the customer code as the invocation error', async () => {
    const inv = await run(fn('insert', `async function onTrack() { throw new ValidationError('no email') }`));
    expect(inv.error).toEqual({ name: 'ValidationError', message: 'no email' });
  });

  it('gives a source function the request and collects what it emits', async () => {
    const inv = await invoke(
      env,
      fn(
        'source',
        `async function onRequest(request, settings) {
           const body = await request.json();
           Segment.track({ event: 'Hook', userId: body.id, properties: { ua: request.headers.get('x-test'), url: request.url } });
           Segment.identify({ userId: body.id, traits: { plan: settings.plan } });
         }`,
      ),
      {
        handler: 'onRequest',
        request: { url: 'https://t.test/hook', method: 'POST', headers: [['x-test', 'yes']], body: '{"id":"u1"}' },
        settings: { plan: 'pro' },
      },
    );
    expect(inv.error).toBeUndefined();
    expect(inv.emitted).toEqual([
      { type: 'track', event: 'Hook', userId: 'u1', properties: { ua: 'yes', url: 'https://t.test/hook' } },
      { type: 'identify', userId: 'u1', traits: { plan: 'pro' } },
    ]);
  });

  it('lets a destination function fetch only through the SSRF guard', async () => {
    const inv = await invoke(
      env,
      fn(
        'destination',
        `async function onTrack(e) {
           const out = [];
           for (const url of ['http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/']) {
             try { await fetch(url); out.push('sent'); } catch (err) { out.push(String(err.message)); }
           }
           return out;
         }`,
      ),
      { handler: 'onTrack', arg: track, settings: {} },
      { dryRun: true },
    );
    expect(inv.error).toBeUndefined();
    for (const m of inv.result as string[]) expect(m).toMatch(/private|metadata|not allowed|blocked|refuse/i);
    expect(inv.requests).toHaveLength(2);
  });

  it("runs an insert chain over a request's events: dropped, changed, a failure passed on unchanged", async () => {
    const live = (code: string, settings = {}): LiveInstance => ({
      id: `fi_${n}`,
      fn: fn('insert', code),
      name: 'chain',
      sourceId: 's',
      destinationId: null,
      settings,
    });
    const first = live(`async function onTrack(e) {
      if (e.event === 'drop') return;
      if (e.event === 'boom') throw new Error('bug');
      e.properties.step = 1; return e }`);
    const second = live(
      'async function onTrack(e, s) { e.properties.by = s.who; return e } async function onIdentify() {}',
      {
        who: 'second',
      },
    );
    const ev = (event: string, type = 'track') =>
      ({ type, event, messageId: event, properties: {}, traits: {} }) as unknown as EnrichedEvent;
    const out = await runInsertsOver(env, [first, second], [ev('keep'), ev('drop'), ev('boom'), ev('who', 'identify')]);
    expect(out.results.map((e) => e && (e as { properties?: unknown }).properties)).toEqual([
      { step: 1, by: 'second' },
      null,
      { by: 'second' },
      null,
    ]);
    expect(out.ran.map((r) => r.status)).toEqual(['ok', 'dropped', 'error', 'ok', 'ok', 'ok', 'dropped']);
  });
});
