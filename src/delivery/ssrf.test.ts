import { describe, expect, it } from 'vitest';
import { resetResolver, resolvedProblem } from './resolve';
import { urlProblem } from './ssrf';

const prod = { allowLoopback: false };
const local = { allowLoopback: true };

describe('SSRF guard', () => {
  it('accepts public http(s) endpoints', () => {
    for (const u of [
      'https://api.mixpanel.com/import',
      'http://hooks.example.com:8080/x',
      'https://8.8.8.8/',
      'https://[2606:4700::1111]/',
    ]) {
      expect(urlProblem(u, prod), u).toBeUndefined();
    }
  });

  it('refuses private, link-local, metadata, shared and reserved addresses', () => {
    const refused = [
      'http://10.0.0.5/',
      'http://172.16.3.4/',
      'http://192.168.1.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[fd00:ec2::254]/',
      'http://[fe80::1]/',
      'http://[::ffff:10.0.0.1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://metadata.google.internal/',
      'http://printer.local/',
      'http://intranet/',
      'http://224.0.0.1/',
    ];
    for (const u of refused) expect(urlProblem(u, prod), u).toBeDefined();
  });

  it('refuses loopback in production, however it is written, and allows it locally', () => {
    const loopback = [
      'http://127.0.0.1:9000/',
      'http://localhost/',
      'http://api.localhost/',
      'http://[::1]/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::ffff:127.0.0.1]/',
    ];
    for (const u of loopback) {
      expect(urlProblem(u, prod), u).toBeDefined();
      expect(urlProblem(u, local), u).toBeUndefined();
    }
    expect(urlProblem('http://10.0.0.1/', local)).toBeDefined();
  });

  it('refuses other schemes and garbage', () => {
    expect(urlProblem('file:///etc/passwd', prod)).toMatch(/http/);
    expect(urlProblem('gopher://x.example/', prod)).toMatch(/http/);
    expect(urlProblem('not a url', prod)).toMatch(/valid URL/);
  });

  it('judges IPv6 transition forms by the IPv4 address inside them', () => {
    const loopback = [
      'http://[::127.0.0.1]/', // IPv4-compatible
      'http://[::ffff:0:7f00:1]/', // IPv4-translated
      'http://[::ffff:7f00:1]/', // IPv4-mapped, in hex
      'http://[64:ff9b::127.0.0.1]/', // NAT64
      'http://[2002:7f00:1::]/', // 6to4
      'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', // Teredo, client 127.0.0.1 inverted
    ];
    for (const u of loopback) {
      expect(urlProblem(u, prod), u).toMatch(/loopback/);
      expect(urlProblem(u, local) ?? '', u).not.toMatch(/loopback/);
    }
    const refused: [string, RegExp][] = [
      ['http://[64:ff9b:1::7f00:1]/', /local-use NAT64/],
      ['http://[fec0::1]/', /site-local/],
      ['http://[fc00::1]/', /unique-local/],
      ['http://[fe80::1]/', /link-local/],
      ['http://[ff02::1]/', /multicast/],
      ['http://[64:ff9b::10.0.0.1]/', /private/],
      ['http://[2002:a9fe:a9fe::1]/', /link-local/],
      ['http://[::8.8.8.8]/', /deprecated IPv4-compatible/],
      ['http://[2001:db8::1]/', /documentation/],
      ['http://[100::1]/', /reserved/],
      ['http://[::]/', /unspecified/],
    ];
    for (const [u, why] of refused) expect(urlProblem(u, prod), u).toMatch(why);
    // Public IPv4 inside the forms vendors really use stays allowed.
    for (const u of ['http://[::ffff:8.8.8.8]/', 'http://[64:ff9b::8.8.8.8]/', 'http://[2002:808:808::1]/']) {
      expect(urlProblem(u, prod), u).toBeUndefined();
    }
  });

  it('refuses names that resolve to addresses written in them, and trailing-dot spellings', () => {
    const refused = [
      'http://localhost../',
      'http://localhost./',
      'http://localtest.me/',
      'http://app.localtest.me/',
      'http://lvh.me/',
      'http://127.0.0.1.nip.io/',
      'http://anything.nip.io/',
      'http://10-0-0-1.sslip.io/',
      'http://x.127.0.0.1.xip.io/',
      'http://7f000001.rbndr.us/',
      'http://10.0.0.5.example.com/',
      'http://app-192-168-1-10.example.com/',
      'http://a9fea9fe.example.com/',
      'http://printer.local./',
      'http://0177.0.0.1/',
      'http://0x7f000001/',
      'http://127.1/',
    ];
    for (const u of refused) expect(urlProblem(u, prod), u).toBeDefined();
    for (const u of ['https://hooks.example.com./in', 'https://api-eu.mixpanel.com/', 'https://1-2-3.example.com/']) {
      expect(urlProblem(u, prod), u).toBeUndefined();
    }
    // Locally (wrangler dev), loopback names stay usable as before.
    expect(urlProblem('http://localhost../', local)).toBeUndefined();
  });

  it('checks DNS-over-HTTPS answers, and lets delivery go on when DoH does not answer', async () => {
    resetResolver();
    const asked: string[] = [];
    const doh = (answers: Record<string, { type: number; data: string }[]>) =>
      (async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = new URL(String(input));
        asked.push(`${url.origin}${url.pathname} ${url.searchParams.get('name')} ${url.searchParams.get('type')}`);
        expect(new Headers(init?.headers).get('accept')).toBe('application/dns-json');
        const type = url.searchParams.get('type') === 'A' ? 1 : 28;
        const name = url.searchParams.get('name') ?? '';
        const Answer = (answers[name] ?? []).filter((a) => a.type === type).map((a) => ({ ...a, name, TTL: 60 }));
        return Response.json({ Status: 0, Answer });
      }) as typeof fetch;
    const dohFetch = doh({
      'rebound.example.com': [{ type: 1, data: '127.0.0.1' }],
      'v6.example.com': [{ type: 28, data: 'fd00::5' }],
      'public.example.com': [
        { type: 1, data: '93.184.216.34' },
        { type: 28, data: '2606:2800:220:1::1' },
      ],
    });
    const opts = { allowLoopback: false, fetch: dohFetch };
    expect(await resolvedProblem('https://rebound.example.com/x', opts)).toMatch(/resolves to a loopback address/);
    expect(await resolvedProblem('https://v6.example.com/x', opts)).toMatch(/unique-local/);
    expect(await resolvedProblem('https://public.example.com/x', opts)).toBeUndefined();
    expect(asked).toContain('https://cloudflare-dns.com/dns-query rebound.example.com A');
    // Cached: asked once per name and type.
    const before = asked.length;
    await resolvedProblem('https://rebound.example.com/y', opts);
    expect(asked.length).toBe(before);
    // No DoH (no network here): not a reason to refuse.
    const offline = (async () => {
      throw new TypeError('Network connection lost');
    }) as typeof globalThis.fetch;
    expect(
      await resolvedProblem('https://other.example.com/', { allowLoopback: false, fetch: offline }),
    ).toBeUndefined();
    // Locally nothing is resolved.
    expect(
      await resolvedProblem('https://rebound2.example.com/', { allowLoopback: true, fetch: dohFetch }),
    ).toBeUndefined();
    expect(asked.some((a) => a.includes('rebound2'))).toBe(false);
  });
});
