import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { AllowList, firstBlockedAddress } from '../destinations/url-policy';

/**
 * DNS lookup for outgoing deliveries that refuses internal addresses, so a destination whose name
 * was public at creation cannot be re-pointed (DNS rebinding) at an internal service later.
 * Host names on the allow list, and their addresses, pass.
 */
export function guardedLookup(allow: AllowList): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const blocked = firstBlockedAddress(
        hostname,
        addresses.map((a) => a.address),
        allow,
      );
      if (blocked !== undefined) {
        const refusal = Object.assign(new Error(`refusing to connect to internal address ${blocked} of ${hostname}`), {
          code: 'EADDRBLOCKED',
        });
        return callback(refusal, '', 0);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses.find((a) => !options.family || a.family === options.family) ?? addresses[0];
      return callback(null, first.address, first.family);
    });
  };
}
