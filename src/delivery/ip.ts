/**
 * Pure address checks for the SSRF guard: which IPv4 and IPv6 addresses a destination may not
 * point to. IPv6 transition forms that carry an IPv4 address (mapped, translated, compatible,
 * NAT64, 6to4, Teredo) are judged by the IPv4 address inside them, so `[::ffff:7f00:1]` or
 * `[2002:7f00:1::]` is loopback like `127.0.0.1`. Outside those, only global unicast
 * (`2000::/3`) minus its special-purpose blocks is allowed.
 */

/** IPv4 ranges no destination may live in: [network, prefix length, what it is]. */
const V4_BLOCKED: [string, number, string][] = [
  ['0.0.0.0', 8, 'the "this network" range'],
  ['10.0.0.0', 8, 'a private range'],
  ['100.64.0.0', 10, 'the carrier-grade NAT range'],
  ['169.254.0.0', 16, 'the link-local range (cloud metadata)'],
  ['172.16.0.0', 12, 'a private range'],
  ['192.0.0.0', 24, 'an IETF reserved range'],
  ['192.0.2.0', 24, 'a documentation range'],
  ['192.88.99.0', 24, 'the deprecated 6to4 relay range'],
  ['192.168.0.0', 16, 'a private range'],
  ['198.18.0.0', 15, 'the benchmarking range'],
  ['198.51.100.0', 24, 'a documentation range'],
  ['203.0.113.0', 24, 'a documentation range'],
  ['224.0.0.0', 4, 'the multicast range'],
  ['240.0.0.0', 4, 'a reserved range'],
];

/** A dotted-quad IPv4 address as a 32-bit number (strict: four decimal parts 0–255). */
export function v4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** `V4_BLOCKED` as masks and masked networks, computed once (every delivery request checks them). */
const V4_MASKS = V4_BLOCKED.map(([base, bits, what]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { mask, network: ((v4ToInt(base) ?? 0) & mask) >>> 0, what };
});

/** Why an IPv4 address (as a number) is refused, or undefined. */
export function v4Problem(n: number, allowLoopback: boolean): string | undefined {
  if (n >>> 24 === 127) return allowLoopback ? undefined : 'a loopback address';
  for (const { mask, network, what } of V4_MASKS) if ((n & mask) >>> 0 === network) return what;
  return undefined;
}

/** Parses an IPv6 literal (without brackets; a trailing dotted IPv4 allowed) into 8 groups. */
export function v6Groups(ip: string): number[] | undefined {
  let text = ip.toLowerCase();
  if (text.includes('%')) return undefined; // zone ids only mean something on one host
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const n = v4ToInt(dotted[2]);
    if (n === undefined) return undefined;
    text = `${dotted[1]}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s ? s.split(':') : []);
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  if (![...head, ...tail].every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head, ...new Array(halves.length === 2 ? missing : 0).fill('0'), ...tail].map((g) =>
    Number.parseInt(g, 16),
  );
}

const v4Of = (hi: number, lo: number) => ((hi << 16) | lo) >>> 0;
const zeros = (g: number[], from: number, to: number) => g.slice(from, to).every((x) => x === 0);

/** An IPv4 address embedded in a transition form, with the form's name. */
function embeddedV4(g: number[]): { v4: number; form: string } | undefined {
  if (zeros(g, 0, 5) && g[5] === 0xffff) return { v4: v4Of(g[6], g[7]), form: 'IPv4-mapped' };
  if (zeros(g, 0, 4) && g[4] === 0xffff && g[5] === 0) return { v4: v4Of(g[6], g[7]), form: 'IPv4-translated' };
  if (zeros(g, 0, 6)) return { v4: v4Of(g[6], g[7]), form: 'IPv4-compatible' };
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(g, 2, 6)) return { v4: v4Of(g[6], g[7]), form: 'NAT64' };
  if (g[0] === 0x2002) return { v4: v4Of(g[1], g[2]), form: '6to4' };
  // Teredo: the client's IPv4 address is stored inverted in the last 32 bits.
  if (g[0] === 0x2001 && g[1] === 0) return { v4: ~v4Of(g[6], g[7]) >>> 0, form: 'Teredo' };
  return undefined;
}

/** Why an IPv6 address (as 8 groups) is refused, or undefined. */
export function v6Problem(g: number[], allowLoopback: boolean): string | undefined {
  if (g.every((x) => x === 0)) return 'the unspecified address';
  if (zeros(g, 0, 7) && g[7] === 1) return allowLoopback ? undefined : 'a loopback address';
  const inner = embeddedV4(g);
  if (inner) {
    const problem = v4Problem(inner.v4, allowLoopback);
    if (problem) return `${problem} (inside an ${inner.form} IPv6 address)`;
    // Deprecated forms no vendor publishes; mapped/translated/NAT64 of a public address are fine.
    if (inner.form === 'IPv4-compatible' || inner.form === 'Teredo') return `a deprecated ${inner.form} address`;
    return undefined;
  }
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'the local-use NAT64 range';
  if ((g[0] & 0xffc0) === 0xfec0) return 'the deprecated site-local range';
  if ((g[0] & 0xfe00) === 0xfc00) return 'a unique-local (private) range';
  if ((g[0] & 0xffc0) === 0xfe80) return 'the link-local range';
  if ((g[0] & 0xff00) === 0xff00) return 'the multicast range';
  if ((g[0] & 0xe000) !== 0x2000) return 'a reserved IPv6 range';
  if (g[0] === 0x2001 && g[1] < 0x200) return 'an IETF special-purpose range';
  if (g[0] === 0x2001 && g[1] === 0xdb8) return 'a documentation range';
  if (g[0] === 0x3fff && g[1] < 0x1000) return 'a documentation range';
  return undefined;
}

/** Why an IP address in text (IPv4 dotted or IPv6) is refused; `null` when it is not an IP. */
export function ipProblem(text: string, allowLoopback: boolean): string | undefined | null {
  const v4 = v4ToInt(text);
  if (v4 !== undefined) return v4Problem(v4, allowLoopback);
  if (!text.includes(':')) return null;
  const g = v6Groups(text);
  return g ? v6Problem(g, allowLoopback) : 'an unreadable IPv6 address';
}
