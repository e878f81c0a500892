import type { LookupAddress } from 'node:dns';
import { parseAllowList } from '../destinations/url-policy';
import { guardedLookup } from './guarded-lookup';

// `localhost` resolves from the hosts file: no network needed.
const resolve = (allow: string[], all: boolean) =>
  new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[] }>((done) =>
    guardedLookup(parseAllowList(allow))('localhost', { all }, (err, address) => done({ err, address })),
  );

describe('guardedLookup', () => {
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
});
