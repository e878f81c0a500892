import ipaddr from 'ipaddr.js';

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

const normalizeHost = (host: string): string => host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');

export function parseAllowList(entries: readonly string[]): AllowList {
  const hosts = new Set<string>();
  const ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const entry of entries.map((e) => e.trim()).filter(Boolean)) {
    if (ipaddr.isValidCIDR(entry)) ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) {
      const addr = ipaddr.process(entry);
      ranges.push([addr, addr.kind() === 'ipv4' ? 32 : 128]);
    } else hosts.add(normalizeHost(entry));
  }
  return { hosts, ranges };
}

/**
 * ipaddr.js's name of the range an address is in; IPv4-mapped IPv6 is judged as the IPv4 it maps.
 * Only `unicast` is public: loopback, private, linkLocal, uniqueLocal, carrierGradeNat, multicast,
 * unspecified, reserved, broadcast, and the tunnelling prefixes (6to4, teredo, NAT64) are not.
 */
export const addressRange = (ip: string): string => ipaddr.process(normalizeHost(ip)).range();

export const isPublicAddress = (ip: string): boolean => addressRange(ip) === 'unicast';

export function isAllowedAddress(ip: string, allow: AllowList): boolean {
  const addr = ipaddr.process(normalizeHost(ip));
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
