import type { LookupAddress } from 'node:dns';
import { parseAllowList } from '../destinations/url-policy';
import { guardedLookup } from './guarded-lookup';

/** When set, what the resolver answers for `rebound.example`; every other name resolves for real. */
let mockRebound: LookupAddress[] | null = null;
jest.mock('node:dns', () => {
  const actual = jest.requireActual<typeof import('node:dns')>('node:dns');
  return {
    ...actual,
    lookup: (
      host: string,
      options: { all: true },
      callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
    ) =>
      host === 'rebound.example' && mockRebound ? callback(null, mockRebound) : actual.lookup(host, options, callback),
  };
});

// `localhost` resolves from the hosts file: no network needed.
const resolve = (allow: string[], all: boolean, hostname = 'localhost') =>
  new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[] }>((done) =>
    guardedLookup(parseAllowList(allow))(hostname, { all }, (err, address) => done({ err, address })),
  );

describe('guardedLookup', () => {
  afterEach(() => {
    mockRebound = null;
  });

  it('refuses a host that resolves to an internal address', async () => {
    const { err } = await resolve([], true);
    expect(err?.code).toBe('EADDRBLOCKED');
  });

  it('lets the allow list through, in both callback shapes', async () => {
    const all = await resolve(['localhost'], true);
    expect(all.err).toBeNull();
    expect(Array.isArray(all.address)).toBe(true);
    const one = await resolve(['localhost'], false);
    expect(one.err).toBeNull();
    expect(typeof one.address).toBe('string');
  });

  // A name re-pointed after creation (DNS rebinding) to IPv6 spellings of internal IPv4 addresses,
  // as the resolver prints them; 127.0.0.1 on the allow list must not open its IPv6 forms.
  it.each(['::127.0.0.1', '::a00:1', '::169.254.169.254', '64:ff9b::a9fe:a9fe', '::ffff:0:a00:1', '2002:a9fe:a9fe::1'])(
    'refuses a host that resolves to %s',
    async (address) => {
      mockRebound = [{ address, family: 6 }];
      const { err } = await resolve(['127.0.0.1'], false, 'rebound.example');
      expect(err?.code).toBe('EADDRBLOCKED');
      expect(err?.message).toContain(address);
    },
  );

  it('lets a public IPv6 answer through', async () => {
    mockRebound = [{ address: '2606:4700:4700::1111', family: 6 }];
    const { err, address } = await resolve(['127.0.0.1'], false, 'rebound.example');
    expect(err).toBeNull();
    expect(address).toBe('2606:4700:4700::1111');
  });
});
