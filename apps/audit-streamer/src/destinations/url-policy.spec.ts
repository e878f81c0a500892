import { checkUrlShape, firstBlockedAddress, isAllowListEntry, isPublicAddress, parseAllowList } from './url-policy';

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '224.0.0.1', '255.255.255.255', '198.18.0.1', '240.0.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
    '64:ff9b::a00:1', '2002:a00:1::1',
  ])('refuses %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('accepts %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('firstBlockedAddress', () => {
  const allow = parseAllowList(['127.0.0.1', '10.20.0.0/16', 'Hooks.Internal.Example', 'fd00::/8']);

  it('lets through public addresses', () => {
    expect(firstBlockedAddress('example.com', ['93.184.216.34'], allow)).toBeUndefined();
  });

  it('names the first internal address when any resolved address is internal', () => {
    expect(firstBlockedAddress('evil.example', ['93.184.216.34', '192.168.0.5'], allow)).toBe('192.168.0.5');
  });

  it('lets through allowed IPs and CIDRs, but not their neighbours', () => {
    expect(firstBlockedAddress('a', ['127.0.0.1'], allow)).toBeUndefined();
    expect(firstBlockedAddress('a', ['127.0.0.2'], allow)).toBe('127.0.0.2');
    expect(firstBlockedAddress('a', ['10.20.9.9', 'fd00::5'], allow)).toBeUndefined();
    expect(firstBlockedAddress('a', ['10.21.0.1'], allow)).toBe('10.21.0.1');
  });

  it('lets through an allowed host name whatever it resolves to (case-insensitive)', () => {
    expect(firstBlockedAddress('hooks.internal.example', ['10.0.0.1'], allow)).toBeUndefined();
    expect(firstBlockedAddress('other.internal.example', ['10.0.0.1'], allow)).toBe('10.0.0.1');
  });

  it('does not let an IPv4 allow entry match IPv6 addresses', () => {
    expect(firstBlockedAddress('a', ['::1'], parseAllowList(['127.0.0.1']))).toBe('::1');
  });
});

describe('checkUrlShape', () => {
  it('requires https unless http is allowed', () => {
    expect(checkUrlShape('http://example.com/hook', false)).toEqual({ ok: false, message: 'must use https' });
    expect(checkUrlShape('http://example.com/hook', true).ok).toBe(true);
    expect(checkUrlShape('https://example.com/hook', false).ok).toBe(true);
    expect(checkUrlShape('ftp://example.com', true).ok).toBe(false);
  });

  it('refuses garbage and credentials', () => {
    expect(checkUrlShape('not a url', false)).toEqual({ ok: false, message: 'is not a valid URL' });
    expect(checkUrlShape('https://user:pw@example.com/', false)).toEqual({ ok: false, message: 'must not contain credentials' });
  });

  it('normalises IP hosts, including odd IPv4 notations and IPv6 brackets', () => {
    expect(checkUrlShape('https://0x7f.1/x', false)).toMatchObject({ ok: true, host: '127.0.0.1', isIp: true });
    expect(checkUrlShape('https://[::1]:8443/x', false)).toMatchObject({ ok: true, host: '::1', isIp: true });
  });
});

describe('isAllowListEntry', () => {
  it('accepts IPs, CIDRs and host names, refuses junk', () => {
    expect(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'localhost', 'hooks.example.com'].every(isAllowListEntry)).toBe(true);
    expect(['http://x', 'a b', '10.0.0.0/99'].some(isAllowListEntry)).toBe(false);
  });
});
