// Where outbound HTTP from the server may go (a hook's `fetch`, webhook deliveries): the
// `"host[:port]"` list match (a hook's `allowed_hosts`, WEBHOOK_ALLOWED_HOSTS) and the address
// classes refused unless a host is listed (loopback, private, link-local, CGNAT, unspecified,
// multicast, documentation, reserved, and the IPv6 forms that embed such an IPv4 address).
// Pure functions, no I/O.
import { isIP } from 'node:net';

/** One parsed `"host[:port]"` entry: a canonical hostname (IPv6 in brackets) and an optional port. */
export interface HostRule {
  hostname: string;
  port: number | null;
}

const ENTRY = /^(\[[0-9a-fA-F:.]+\]|[^:/?#@[\]\s]+)(?::(\d{1,5}))?$/;

/** Parses `"host[:port]"` entries; an entry that does not parse is ignored (the store validates them). */
export function parseAllowedHosts(entries: readonly string[] | null | undefined): HostRule[] {
  const rules: HostRule[] = [];
  for (const entry of entries ?? []) {
    const rule = parseHostEntry(String(entry));
    if (rule) rules.push(rule);
  }
  return rules;
}

/**
 * Whether an entry is one well-formed `"host[:port]"`: a name or IPv4 address of letters, digits, dots
 * and hyphens, or an IPv6 address in brackets, and a port from 1 to 65535. Stricter than what
 * parseHostEntry reads, so a wildcard or a URL is refused where entries are given, not ignored later.
 */
export function isHostEntry(entry: string): boolean {
  return /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$/.test(entry) && parseHostEntry(entry) !== null;
}

/** One `"host[:port]"` entry, or null when it does not parse (bad host, port out of range). */
export function parseHostEntry(entry: string): HostRule | null {
  const match = ENTRY.exec(entry.trim());
  if (!match) return null;
  const hostname = canonicalHostname(match[1]);
  if (hostname === null) return null;
  const port = match[2] === undefined ? null : Number(match[2]);
  if (port !== null && (port < 1 || port > 65535)) return null;
  return { hostname, port };
}

/** The WHATWG form of a hostname ("127.1" → "127.0.0.1", "EXAMPLE.com" → "example.com"), or null. */
export function canonicalHostname(host: string): string | null {
  try {
    const hostname = new URL(`http://${host}/`).hostname;
    return hostname === '' ? null : hostname;
  } catch {
    return null;
  }
}

export function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/**
 * Whether a URL's host and port are listed. An entry without a port allows the scheme's default port
 * only (as in CSP): list `host:8443` to reach a non-default port.
 */
export function isListed(rules: readonly HostRule[], url: URL): boolean {
  const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
  return rules.some((rule) => rule.hostname === url.hostname && (rule.port ?? defaultPort(url.protocol)) === port);
}

/** Strips the brackets of an IPv6 URL hostname ("[::1]" → "::1"). */
export function bareHostname(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

// ---- address classes ----

type V4Range = [number, number, string]; // [network as uint32, prefix length, why]

const V4_REFUSED: V4Range[] = [
  [v4('0.0.0.0'), 8, 'unspecified ("this network")'],
  [v4('10.0.0.0'), 8, 'private'],
  [v4('100.64.0.0'), 10, 'shared (CGNAT)'],
  [v4('127.0.0.0'), 8, 'loopback'],
  [v4('169.254.0.0'), 16, 'link-local'],
  [v4('172.16.0.0'), 12, 'private'],
  [v4('192.0.0.0'), 24, 'IETF protocol assignments'],
  [v4('192.0.2.0'), 24, 'documentation'],
  [v4('192.88.99.0'), 24, '6to4 relay anycast'],
  [v4('192.168.0.0'), 16, 'private'],
  [v4('198.18.0.0'), 15, 'benchmarking'],
  [v4('198.51.100.0'), 24, 'documentation'],
  [v4('203.0.113.0'), 24, 'documentation'],
  [v4('224.0.0.0'), 4, 'multicast'],
  [v4('240.0.0.0'), 4, 'reserved / broadcast'],
];

function v4(text: string): number {
  const parts = text.split('.').map(Number);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function v4Refusal(value: number): string | null {
  for (const [network, prefix, why] of V4_REFUSED) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((value & mask) >>> 0 === network) return why;
  }
  return null;
}

/** Parses an IPv6 address (no zone) into 8 16-bit groups, or null. */
export function parseIPv6(text: string): number[] | null {
  if (isIP(text) !== 6) return null;
  let head = text;
  const groups: number[] = [];
  // A trailing dotted IPv4 part stands for two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  let tail: number[] = [];
  if (dotted) {
    const value = v4(dotted[1]);
    tail = [value >>> 16, value & 0xffff];
    head = head.slice(0, -dotted[1].length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, null];
  const leftGroups = left ? left.split(':').map((g) => parseInt(g, 16)) : [];
  const rightGroups = right ? right.split(':').map((g) => parseInt(g, 16)) : [];
  const missing = 8 - leftGroups.length - rightGroups.length - tail.length;
  if (right === null && missing !== 0) return null;
  if (missing < 0) return null;
  groups.push(...leftGroups, ...new Array(right === null ? 0 : missing).fill(0), ...rightGroups, ...tail);
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  return groups;
}

function embeddedV4(high: number, low: number): number {
  return ((high << 16) | low) >>> 0;
}

function v6Refusal(g: number[]): string | null {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(8)) return 'unspecified';
  if (zeroUpTo(7) && g[7] === 1) return 'loopback';
  // ::ffff:a.b.c.d (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated): judged as the IPv4 address.
  if (zeroUpTo(5) && g[5] === 0xffff) return prefixed('IPv4-mapped', v4Refusal(embeddedV4(g[6], g[7])));
  if (zeroUpTo(4) && g[4] === 0xffff && g[5] === 0) return prefixed('IPv4-translated', v4Refusal(embeddedV4(g[6], g[7])));
  if (zeroUpTo(6)) return 'IPv4-compatible (deprecated)';
  // 64:ff9b::/96 (NAT64): judged as the embedded IPv4 address; 64:ff9b:1::/48 is local use.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return prefixed('NAT64', v4Refusal(embeddedV4(g[6], g[7])));
  }
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'NAT64 local use';
  if (g[0] === 0x100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return 'discard-only';
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique local (private)';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0] & 0xffc0) === 0xfec0) return 'site-local (deprecated)';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  if (g[0] === 0x2001 && g[1] === 0) return 'Teredo';
  if (g[0] === 0x2001 && g[1] === 0xdb8) return 'documentation';
  if (g[0] === 0x2001 && (g[1] & 0xfff0) === 0x10) return 'ORCHID';
  if (g[0] === 0x2002) return prefixed('6to4', v4Refusal(embeddedV4(g[1], g[2])));
  if ((g[0] & 0xe000) !== 0x2000) return 'not global unicast';
  return null;
}

function prefixed(kind: string, why: string | null): string | null {
  return why === null ? null : `${kind} ${why}`;
}

/**
 * Why an IP address may not be reached unless its host is listed, or null for a public
 * address. Anything that is not a valid IP address is refused.
 */
export function addressRefusal(address: string): string | null {
  let text = address;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (text.includes('%')) return 'scoped (zone) address';
  const family = isIP(text);
  if (family === 4) return v4Refusal(v4(text));
  if (family === 6) {
    const groups = parseIPv6(text);
    return groups === null ? 'unparseable address' : v6Refusal(groups);
  }
  return 'not an IP address';
}

export function isPublicAddress(address: string): boolean {
  return addressRefusal(address) === null;
}
