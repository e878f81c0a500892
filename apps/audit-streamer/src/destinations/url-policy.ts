import ipaddr from 'ipaddr.js';
import { isIPv6 } from 'node:net';

/**
 * The pure half of the SSRF defence: which URLs and which resolved addresses a destination may use.
 * DNS lives elsewhere (url-check.service.ts at creation, guarded-lookup.ts at delivery time).
 */
export interface AllowList {
  hosts: ReadonlySet<string>;
  ranges: ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/** Valid STREAMING_ALLOWED_HOSTS entry: an IP, a CIDR or a host name. */
export const isAllowListEntry = (entry: string): boolean =>
  ipaddr.isValid(entry) || ipaddr.isValidCIDR(entry) || HOSTNAME.test(entry);

const normalizeHost = (host: string): string =>
  host
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * An IP address as the network sees it, or null. IPv6 text goes through the WHATWG URL parser
 * (RFC 4291 text) before ipaddr.js: ipaddr.js reads the dotted IPv4-compatible form `::127.0.0.1`,
 * which is how glibc prints a ::/96 DNS answer, as IPv4-mapped `::ffff:127.0.0.1`, and an allow
 * entry 127.0.0.1 would then let it through. A zone id (`%eth0`) is refused by the URL parser: null.
 */
function parseAddress(text: string): Address | null {
  const host = normalizeHost(text);
  if (isIPv6(host)) {
    try {
      return ipaddr.IPv6.parse(new URL(`http://[${host}]/`).hostname.slice(1, -1));
    } catch {
      return null;
    }
  }
  return ipaddr.IPv4.isValid(host) ? ipaddr.IPv4.parse(host) : null;
}

/** IPv4-mapped IPv6 as the IPv4 it maps: the same host, so an allow entry covers both spellings. */
const unwrapMapped = (addr: Address): Address =>
  addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;

export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const ranges: Array<[Address, number]> = [];
  for (const entry of entries.map((e) => e.trim()).filter(Boolean)) {
    if (ipaddr.isValidCIDR(entry)) {
      const [address, bits] = entry.split('/');
      const addr = parseAddress(address);
      if (addr) ranges.push([addr, Number(bits)]);
    } else if (ipaddr.isValid(entry)) {
      const parsed = parseAddress(entry);
      const addr = parsed && unwrapMapped(parsed);
      if (addr) ranges.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else hosts.add(normalizeHost(entry));
  }
  return { hosts, ranges };
}

/** The only IPv6 block assigned for use on the internet (RFC 4291 §2.5.4, IANA IPv6 address space). */
const GLOBAL_UNICAST: [ipaddr.IPv6, number] = [ipaddr.IPv6.parse('2000::'), 3];

/**
 * Prefixes inside 2000::/3 whose addresses carry an IPv4 address (6to4, Teredo) and so reach
 * whatever that IPv4 is through a relay. ipaddr.js names them too; listed here so that guarantee
 * does not rest on the library's naming.
 */
const EMBEDS_IPV4: ReadonlyArray<[ipaddr.IPv6, number]> = [
  [ipaddr.IPv6.parse('2002::'), 16],
  [ipaddr.IPv6.parse('2001::'), 32],
];

/**
 * Whether an address may be reached without being on the allow list.
 *
 * IPv4: only what ipaddr.js calls `unicast` (0/8, 100.64/10, 192.0.0/24, 198.18/15, 240/4 and
 * 255.255.255.255 all have other names there; url-policy.spec.ts pins them).
 *
 * IPv6 by an allow-list, not a deny-list: there are many IPv6 spellings of IPv4 addresses
 * (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, IPv4-translated ::ffff:0:0:0/96, NAT64
 * 64:ff9b::/96 and 64:ff9b:1::/48) and ipaddr.js calls ::/96 plain `unicast`, so a list of bad
 * ranges misses the next one. Only global unicast 2000::/3 can be public, and within it nothing
 * ipaddr.js names as special (6to4, Teredo, documentation, benchmarking, ORCHID…). IPv4-mapped is
 * not judged as the IPv4 it maps: a public destination is written as its IPv4 address.
 */
export function isPublicAddress(ip: string): boolean {
  const addr = parseAddress(ip);
  if (!addr) return false;
  if (addr.kind() === 'ipv4') return addr.range() === 'unicast';
  const v6 = addr as ipaddr.IPv6;
  return v6.match(GLOBAL_UNICAST) && v6.range() === 'unicast' && !EMBEDS_IPV4.some((range) => v6.match(range));
}

export function isAllowedAddress(ip: string, allow: AllowList): boolean {
  const parsed = parseAddress(ip);
  if (!parsed) return false;
  const addr = unwrapMapped(parsed);
  return allow.ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
}

export const isAllowedHost = (host: string, allow: AllowList): boolean => allow.hosts.has(normalizeHost(host));

/** The first resolved address the destination may not reach, or undefined when all are fine. */
export function firstBlockedAddress(host: string, addresses: readonly string[], allow: AllowList): string | undefined {
  if (isAllowedHost(host, allow)) return undefined;
  return addresses.find((ip) => !isPublicAddress(ip) && !isAllowedAddress(ip, allow));
}

export type UrlShape = { ok: true; url: URL; host: string; isIp: boolean } | { ok: false; message: string };

/** Syntax and scheme rules that need no network: parses, https (or http when allowed), no credentials. */
export function checkUrlShape(raw: string, allowHttp: boolean): UrlShape {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: 'is not a valid URL' };
  }
  const schemes = allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!schemes.includes(url.protocol)) {
    return { ok: false, message: allowHttp ? 'must use https or http' : 'must use https' };
  }
  if (url.username || url.password) return { ok: false, message: 'must not contain credentials' };
  const host = normalizeHost(url.hostname);
  if (!host) return { ok: false, message: 'must have a host' };
  return { ok: true, url, host, isIp: ipaddr.isValid(host) };
}
