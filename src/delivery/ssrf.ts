/**
 * SSRF guard for URLs people type into destination settings. Workers resolve DNS themselves, so
 * the guard checks what the URL says: scheme, names that only mean something inside a network,
 * and IP literals in private, loopback, link-local (cloud metadata), shared or reserved ranges.
 * Loopback is allowed only locally, so `wrangler dev` can deliver to a receiver on 127.0.0.1.
 */

const BLOCKED_NAMES = /(^|\.)(local|localdomain|internal|intranet|lan|home\.arpa|corp)$/;
const METADATA_NAMES = new Set(['metadata', 'metadata.google.internal', 'instance-data', 'metadata.azure.com']);

/** IPv4 ranges no destination may live in: [first octets as a 32-bit prefix, prefix length]. */
const V4_BLOCKED: [string, number, string][] = [
  ['0.0.0.0', 8, 'the "this network" range'],
  ['10.0.0.0', 8, 'a private range'],
  ['100.64.0.0', 10, 'the carrier-grade NAT range'],
  ['169.254.0.0', 16, 'the link-local range (cloud metadata)'],
  ['172.16.0.0', 12, 'a private range'],
  ['192.0.0.0', 24, 'an IETF reserved range'],
  ['192.0.2.0', 24, 'a documentation range'],
  ['192.168.0.0', 16, 'a private range'],
  ['198.18.0.0', 15, 'the benchmarking range'],
  ['198.51.100.0', 24, 'a documentation range'],
  ['203.0.113.0', 24, 'a documentation range'],
  ['224.0.0.0', 4, 'the multicast range'],
  ['240.0.0.0', 4, 'a reserved range'],
];

function v4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function v4Problem(n: number, allowLoopback: boolean): string | undefined {
  if (n >>> 24 === 127) return allowLoopback ? undefined : 'a loopback address';
  for (const [base, bits, what] of V4_BLOCKED) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === ((v4ToInt(base) ?? 0) & mask) >>> 0) return what;
  }
  return undefined;
}

/** Expands an IPv6 literal (as the URL parser prints it) into 8 16-bit groups. */
function v6Groups(ip: string): number[] | undefined {
  const [head, tail] = ip.split('::');
  const parse = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

function v6Problem(ip: string, allowLoopback: boolean): string | undefined {
  const g = v6Groups(ip);
  if (!g) return 'an unreadable IPv6 address';
  const zeroPrefix = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroPrefix(7) && g[7] === 1) return allowLoopback ? undefined : 'a loopback address';
  if (zeroPrefix(8)) return 'the unspecified address';
  // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address inside.
  const embedded = (g[6] << 16) + g[7];
  if ((zeroPrefix(5) && g[5] === 0xffff) || (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0))) {
    return v4Problem(embedded >>> 0, allowLoopback);
  }
  if ((g[0] & 0xfe00) === 0xfc00) return 'a unique-local (private) range';
  if ((g[0] & 0xffc0) === 0xfe80) return 'the link-local range';
  if ((g[0] & 0xff00) === 0xff00) return 'the multicast range';
  return undefined;
}

/** Why a URL may not be used as a destination endpoint, or undefined when it may. */
export function urlProblem(raw: string, opts: { allowLoopback: boolean }): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'it is not a valid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http and https URLs are allowed';
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[')) return v6Problem(host.slice(1, -1), opts.allowLoopback);
  const v4 = v4ToInt(host);
  if (v4 !== undefined) return v4Problem(v4, opts.allowLoopback);
  if (host === 'localhost' || host.endsWith('.localhost')) return opts.allowLoopback ? undefined : 'a loopback name';
  if (METADATA_NAMES.has(host)) return 'a cloud metadata service';
  if (!host.includes('.')) return 'a single-label name, which only resolves inside a network';
  if (BLOCKED_NAMES.test(host)) return 'a name that only resolves inside a network';
  return undefined;
}

/** Human sentence for a refused URL. */
export function describeUrlProblem(raw: string, problem: string): string {
  let shown = raw;
  try {
    shown = new URL(raw).origin;
  } catch {}
  return `${shown} is refused: it points to ${problem}. Use a public http(s) endpoint.`;
}
