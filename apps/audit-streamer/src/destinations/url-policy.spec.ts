import { checkUrlShape, firstBlockedAddress, isAllowListEntry, isPublicAddress, parseAllowList } from './url-policy';

describe('isPublicAddress', () => {
  const internal: Array<[string, string[]]> = [
    [
      'IPv4 loopback, private, link-local, CGNAT (100.64/10)',
      [
        '127.0.0.1',
        '127.255.255.254',
        '10.1.2.3',
        '172.16.0.1',
        '192.168.1.1',
        '169.254.169.254',
        '100.64.0.1',
        '100.127.255.254',
      ],
    ],
    [
      'IPv4 this-network 0/8, IETF 192.0.0/24, benchmarking 198.18/15, reserved 240/4, broadcast',
      [
        '0.0.0.0',
        '0.1.2.3',
        '192.0.0.1',
        '192.0.0.255',
        '198.18.0.1',
        '198.19.255.255',
        '240.0.0.1',
        '254.255.255.255',
        '255.255.255.255',
      ],
    ],
    ['IPv4 multicast and documentation', ['224.0.0.1', '239.255.255.255', '192.0.2.1', '198.51.100.1', '203.0.113.1']],
    [
      'IPv6 outside global unicast',
      [
        '::1',
        '0:0:0:0:0:0:0:1',
        '::',
        'fe80::1',
        'FE80::1',
        'fc00::1',
        'fd12:3456::1',
        'FD00::ABCD',
        'ff02::1',
        'fec0::1',
        '100::1',
        '1000::1',
        '4000::1',
        'e000::1',
      ],
    ],
    [
      'IPv4-mapped ::ffff:0:0/96, even of a public IPv4',
      [
        '::ffff:127.0.0.1',
        '::FFFF:7F00:1',
        '0:0:0:0:0:ffff:7f00:1',
        '0000:0000:0000:0000:0000:FFFF:0A00:0001',
        '::ffff:10.0.0.1',
        '::ffff:8.8.8.8',
      ],
    ],
    [
      'IPv4-compatible ::/96 (deprecated), even of a public IPv4',
      [
        '::127.0.0.1',
        '::7f00:1',
        '::a00:1',
        '::A00:1',
        '::a9fe:a9fe',
        '::A9FE:A9FE',
        '::169.254.169.254',
        '0:0:0:0:0:0:a00:1',
        '0000:0000:0000:0000:0000:0000:7F00:0001',
        '::8.8.8.8',
        '::808:808',
      ],
    ],
    [
      'IPv4-translated ::ffff:0:0:0/96',
      ['::ffff:0:127.0.0.1', '::ffff:0:a00:1', '0:0:0:0:ffff:0:a9fe:a9fe', '::FFFF:0:808:808'],
    ],
    [
      'NAT64 64:ff9b::/96 and 64:ff9b:1::/48',
      [
        '64:ff9b::a00:1',
        '64:ff9b::127.0.0.1',
        '64:FF9B::8.8.8.8',
        '0064:ff9b:0000:0000:0000:0000:0a00:0001',
        '64:ff9b:1::a00:1',
        '64:ff9b:1:ffff::1',
      ],
    ],
    ['6to4 2002::/16', ['2002:a00:1::1', '2002:7f00:1::', '2002:0808:0808::1', '2002:C0A8:0101::1']],
    [
      'special blocks inside 2000::/3 (Teredo, 2001::/23, benchmarking, AMT, ORCHID, documentation, segment routing, AS112)',
      [
        '2001::1',
        '2001:0:4136:e378:8000:63bf:3fff:fdd2',
        '2001:1::1',
        '2001:2::1',
        '2001:3::1',
        '2001:10::1',
        '2001:20::1',
        '2001:30::1',
        '2001:1ff:ffff::1',
        '2001:db8::1',
        '2001:DB8:0:0:0:0:0:1',
        '3fff::1',
        '5f00::1',
        '2620:4f:8000::1',
      ],
    ],
    ['anything that is not an address', ['not-an-ip', '', '::ffff:zz']],
  ];
  it.each(internal.flatMap(([kind, ips]) => ips.map((ip) => [ip, kind])))('refuses %s (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255',
    '100.128.0.1',
    '198.17.255.255',
    '198.20.0.1',
    '223.255.255.254',
    '2606:4700:4700::1111',
    '2606:4700:4700:0:0:0:0:1111',
    '2606:4700:4700:0000:0000:0000:0000:1111',
    '2A00:1450:4001:80B::200E',
    '[2001:4860:4860::8888]',
    '2001:200::1',
    '2003::1',
    '3ffe::1',
  ])('accepts %s', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('the creation-time check of an IP URL (as url-check.service.ts makes it)', () => {
  // The allow list of the delivery tests: IPv4 loopback only, which must not open its IPv6 spellings.
  const allow = parseAllowList(['127.0.0.1']);
  const blocked = (raw: string) => {
    const shape = checkUrlShape(raw, true);
    if (!shape.ok || !shape.isIp) throw new Error(`${raw} is not an IP URL`);
    return firstBlockedAddress(shape.host, [shape.host], allow);
  };

  it.each([
    'http://[::127.0.0.1]/',
    'http://[::a00:1]/',
    'http://[::a9fe:a9fe]/',
    'http://[0:0:0:0:0:0:A9FE:A9FE]/latest',
    'http://[64:ff9b::7f00:1]/',
    'http://[::ffff:0:7f00:1]/',
    'http://[2002:7f00:1::1]/',
  ])('refuses %s', (raw) => {
    expect(blocked(raw)).toBeDefined();
  });

  it('lets the allowed IPv4 through', () => {
    expect(blocked('http://127.0.0.1:8080/')).toBeUndefined();
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

  it('does not let an IPv4 allow entry match IPv6 addresses, IPv4-compatible ones included', () => {
    expect(firstBlockedAddress('a', ['::1'], parseAllowList(['127.0.0.1']))).toBe('::1');
    expect(firstBlockedAddress('a', ['::127.0.0.1'], parseAllowList(['127.0.0.1']))).toBe('::127.0.0.1');
    expect(firstBlockedAddress('a', ['127.0.0.1'], parseAllowList(['::127.0.0.1']))).toBe('127.0.0.1');
    expect(firstBlockedAddress('a', ['::7f00:1'], parseAllowList(['::127.0.0.1']))).toBeUndefined();
  });

  it('lets an allowed IPv4 through in its IPv4-mapped spelling (same host), and nothing next to it', () => {
    expect(
      firstBlockedAddress('a', ['::ffff:127.0.0.1', '::FFFF:7F00:1'], parseAllowList(['127.0.0.1'])),
    ).toBeUndefined();
    expect(firstBlockedAddress('a', ['::ffff:127.0.0.2'], parseAllowList(['127.0.0.1']))).toBe('::ffff:127.0.0.2');
  });

  it('lets allowed IPv6 ranges through even where the address is internal by default, but not their neighbours', () => {
    const v6 = parseAllowList(['64:ff9b::/96', '2001:db8::/32', '::a00:1']);
    expect(
      firstBlockedAddress(
        'a',
        ['64:ff9b::a00:1', '64:FF9B:0:0:0:0:A9FE:A9FE', '2001:db8:1::5', '0:0:0:0:0:0:a00:1'],
        v6,
      ),
    ).toBeUndefined();
    expect(firstBlockedAddress('a', ['64:ff9b:1::a00:1'], v6)).toBe('64:ff9b:1::a00:1');
    expect(firstBlockedAddress('a', ['::a00:2'], v6)).toBe('::a00:2');
    expect(firstBlockedAddress('a', ['2001:db8::1', '2606:4700:4700::1111', 'fd00::1'], v6)).toBe('fd00::1');
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
    expect(checkUrlShape('https://user:pw@example.com/', false)).toEqual({
      ok: false,
      message: 'must not contain credentials',
    });
  });

  it('normalises IP hosts, including odd IPv4 notations and IPv6 brackets', () => {
    expect(checkUrlShape('https://0x7f.1/x', false)).toMatchObject({ ok: true, host: '127.0.0.1', isIp: true });
    expect(checkUrlShape('https://[::1]:8443/x', false)).toMatchObject({ ok: true, host: '::1', isIp: true });
  });
});

describe('isAllowListEntry', () => {
  it('accepts IPs, CIDRs and host names, refuses junk', () => {
    expect(
      ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'localhost', 'hooks.example.com'].every(isAllowListEntry),
    ).toBe(true);
    expect(['http://x', 'a b', '10.0.0.0/99'].some(isAllowListEntry)).toBe(false);
  });
});
