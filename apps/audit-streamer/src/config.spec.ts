import { ConfigError } from '@audit/platform';
import { randomBytes } from 'node:crypto';
import { loadAuditStreamerConfig } from './config';

describe('loadAuditStreamerConfig', () => {
  it('has the documented defaults', () => {
    const config = loadAuditStreamerConfig({});
    expect(config).toMatchObject({
      PORT: 3003,
      DATABASE_NAME: 'audit_streamer',
      KAFKA_GROUP_ID: 'audit-streamer',
      STREAMING_ALLOW_HTTP: false,
      STREAMING_ALLOWED_HOSTS: [],
      DELIVERY_TIMEOUT_MS: 10000,
      DELIVERY_POLL_INTERVAL_MS: 1000,
      AUDIT_EVENT_TYPES_DIR: 'config/audit_events/types',
      usingDevelopmentEncryptionKey: true,
    });
    expect(config.encryptionKey).toHaveLength(32);
  });

  it('parses a hex or base64 key and the allow list', () => {
    const key = randomBytes(32);
    const config = loadAuditStreamerConfig({
      ENCRYPTION_KEY: key.toString('hex'),
      STREAMING_ALLOWED_HOSTS: '127.0.0.1, 10.0.0.0/8,hooks.local',
      STREAMING_ALLOW_HTTP: 'true',
    });
    expect(config.encryptionKey.equals(key)).toBe(true);
    expect(config.usingDevelopmentEncryptionKey).toBe(false);
    expect(config.STREAMING_ALLOWED_HOSTS).toEqual(['127.0.0.1', '10.0.0.0/8', 'hooks.local']);
    expect(loadAuditStreamerConfig({ ENCRYPTION_KEY: key.toString('base64') }).encryptionKey.equals(key)).toBe(true);
  });

  it('names ENCRYPTION_KEY when it is missing in production or malformed', () => {
    const production = { NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32) };
    expect(() => loadAuditStreamerConfig(production)).toThrow(/ENCRYPTION_KEY: is required/);
    expect(() => loadAuditStreamerConfig({ ENCRYPTION_KEY: 'short' })).toThrow(ConfigError);
    expect(() => loadAuditStreamerConfig({ ENCRYPTION_KEY: 'short' })).toThrow(/ENCRYPTION_KEY/);
  });

  it('names STREAMING_ALLOWED_HOSTS when an entry is junk', () => {
    expect(() => loadAuditStreamerConfig({ STREAMING_ALLOWED_HOSTS: 'http://x/' })).toThrow(/STREAMING_ALLOWED_HOSTS/);
  });
});
