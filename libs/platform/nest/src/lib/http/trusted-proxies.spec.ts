import { clientIp } from './request-context';
import { isTrustedProxy, isTrustedProxyEntry, trustProxySetting } from './trusted-proxies';

const request = (remoteAddress: string, forwardedFor?: string) =>
  ({ socket: { remoteAddress }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} }) as never;

describe('TRUSTED_PROXIES entries', () => {
  it.each(['127.0.0.1', '::1', '10.0.0.0/8', '2001:db8::/32', 'loopback', 'linklocal', 'uniquelocal'])(
    'accepts %s, as Express does',
    (entry) => expect(isTrustedProxyEntry(entry)).toBe(true),
  );

  it.each(['localhost', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '0x7f.1', '127.1', '::1/129', 'constructor', ''])(
    'refuses %p',
    (entry) => expect(isTrustedProxyEntry(entry)).toBe(false),
  );

  it('turns an empty list into "trust nobody", the setting before TRUSTED_PROXIES existed', () => {
    expect(trustProxySetting([])).toBe(false);
    expect(trustProxySetting(['loopback', '10.0.0.0/8'])).toEqual(['loopback', '10.0.0.0/8']);
  });
});

describe('isTrustedProxy', () => {
  it('knows the presets Express knows, by family', () => {
    expect(isTrustedProxy('127.0.0.5', ['loopback'])).toBe(true);
    expect(isTrustedProxy('::1', ['loopback'])).toBe(true);
    expect(isTrustedProxy('192.168.1.2', ['uniquelocal'])).toBe(true);
    expect(isTrustedProxy('fd00::1', ['uniquelocal'])).toBe(true);
    expect(isTrustedProxy('169.254.1.1', ['linklocal'])).toBe(true);
    expect(isTrustedProxy('203.0.113.7', ['loopback', 'uniquelocal', 'linklocal'])).toBe(false);
  });

  it('matches an IPv4 peer of a dual-stack socket, and an entry written as IPv4-mapped', () => {
    expect(isTrustedProxy('::ffff:10.1.2.3', ['10.0.0.0/8'])).toBe(true);
    expect(isTrustedProxy('10.1.2.3', ['::ffff:10.1.2.3'])).toBe(true);
    expect(isTrustedProxy('not an ip', ['loopback'])).toBe(false);
  });
});

describe('clientIp with presets', () => {
  it('walks X-Forwarded-For back through trusted proxies only', () => {
    expect(clientIp(request('127.0.0.1', '203.0.113.7, 10.0.0.2'), ['loopback', 'uniquelocal'])).toBe('203.0.113.7');
    expect(clientIp(request('127.0.0.1', '203.0.113.7, 198.51.100.9'), ['loopback'])).toBe('198.51.100.9');
    expect(clientIp(request('198.51.100.9', '203.0.113.7'), ['loopback'])).toBe('198.51.100.9');
    expect(clientIp(request('127.0.0.1', '203.0.113.7'), [])).toBe('127.0.0.1');
  });
});
