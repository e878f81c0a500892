import { hostname } from 'node:os';
import { z } from 'zod';
import { baseConfigShape, ConfigError, defaultInstanceName, loadConfig } from './config';

const schema = z.object({ ...baseConfigShape({ port: 3001, database: 'release_service' }) });

describe('INSTANCE_NAME', () => {
  it('defaults to the host name (a pod name is unique), made to fit the rule', () => {
    expect(loadConfig(schema, {}).INSTANCE_NAME).toBe(defaultInstanceName(hostname()));
    expect(defaultInstanceName('release-service-7d9f8b6c5-x2x7k')).toBe('release-service-7d9f8b6c5-x2x7k');
    expect(defaultInstanceName('host name/with:odd*chars')).toBe('host-name-with-odd-chars');
    expect(defaultInstanceName('h'.repeat(300))).toHaveLength(100);
    expect(defaultInstanceName('')).toBe('instance');
  });

  it('takes a name of 1-100 of A-Z a-z 0-9 . _ -', () => {
    expect(loadConfig(schema, { INSTANCE_NAME: 'release-service-0' }).INSTANCE_NAME).toBe('release-service-0');
    expect(loadConfig(schema, { INSTANCE_NAME: 'a'.repeat(100) }).INSTANCE_NAME).toHaveLength(100);
  });

  it.each(['has space', 'a/b', 'a'.repeat(101), 'é'])('refuses %p and names the variable', (value) => {
    expect(() => loadConfig(schema, { INSTANCE_NAME: value })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { INSTANCE_NAME: value })).toThrow(/INSTANCE_NAME:/);
  });
});

describe('TRUSTED_PROXIES', () => {
  it('is empty by default and takes addresses, CIDRs and presets', () => {
    expect(loadConfig(schema, {}).TRUSTED_PROXIES).toEqual([]);
    expect(loadConfig(schema, { TRUSTED_PROXIES: ' 10.0.0.0/8, loopback ,::1' }).TRUSTED_PROXIES).toEqual([
      '10.0.0.0/8',
      'loopback',
      '::1',
    ]);
  });

  it('refuses an entry that is none of them, naming the variable and the entry', () => {
    expect(() => loadConfig(schema, { TRUSTED_PROXIES: '10.0.0.1,proxy.internal' })).toThrow(
      /TRUSTED_PROXIES: "proxy.internal" is not an IP address/,
    );
    expect(() => loadConfig(schema, { TRUSTED_PROXIES: '10.0.0.0/40' })).toThrow(/TRUSTED_PROXIES:/);
  });
});
