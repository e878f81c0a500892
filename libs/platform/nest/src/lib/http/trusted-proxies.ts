import ipaddr from 'ipaddr.js';

/**
 * The named ranges Express's `trust proxy` accepts (proxy-addr's presets), so that TRUSTED_PROXIES means
 * the same to Express (`req.ip`, `req.protocol`) as to `clientIp` (the actor IP of audit events).
 */
const PRESETS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

const isPreset = (entry: string): boolean => Object.hasOwn(PRESETS, entry);

// Only the forms every reader of the list parses alike: dotted-quad IPv4 (ipaddr.js alone would also take
// `0x7f.1`, which other parsers read differently) and standard IPv6.
const isAddress = (text: string): boolean => ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);

/** A preset name, an IP address, or a CIDR (`address/bits`). */
export function isTrustedProxyEntry(entry: string): boolean {
  if (isPreset(entry)) return true;
  const slash = entry.indexOf('/');
  if (slash < 0) return isAddress(entry);
  if (!isAddress(entry.slice(0, slash)) || !/^\d{1,3}$/.test(entry.slice(slash + 1))) return false;
  try {
    ipaddr.parseCIDR(entry);
    return true;
  } catch {
    return false;
  }
}

/** The value of Express's `trust proxy` setting: nobody (as before TRUSTED_PROXIES existed) or the list. */
export const trustProxySetting = (trusted: readonly string[]): false | string[] =>
  trusted.length === 0 ? false : [...trusted];

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, how a dual-stack socket reports IPv4 peers) as IPv4. */
const plain = (ip: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 =>
  ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;

/** Whether `address` is one of the trusted proxies (presets, addresses, CIDRs). */
export function isTrustedProxy(address: string, trusted: readonly string[]): boolean {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = plain(ipaddr.parse(address));
  } catch {
    return false;
  }
  return trusted
    .flatMap((entry) => (isPreset(entry) ? PRESETS[entry] : [entry]))
    .some((entry) => {
      try {
        if (entry.includes('/')) {
          const [range, bits] = ipaddr.parseCIDR(entry);
          return ip.kind() === range.kind() && ip.match([range, bits]);
        }
        return plain(ipaddr.parse(entry)).toString() === ip.toString();
      } catch {
        return false;
      }
    });
}
