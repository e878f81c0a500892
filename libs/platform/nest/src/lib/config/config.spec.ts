import { z } from 'zod';
import { baseConfigShape, ConfigError, loadConfig } from './config';

const schema = z.object({ ...baseConfigShape({ port: 3001, database: 'release_service' }) });

describe('loadConfig', () => {
  it('applies the defaults of docs/contracts.md', () => {
    const config = loadConfig(schema, {});
    expect(config).toMatchObject({
      PORT: 3001,
      DATABASE_NAME: 'release_service',
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      KAFKA_TOPIC: 'domain-events',
      LOG_LEVEL: 'info',
    });
    expect(config.usingDevelopmentSecret).toBe(true);
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'localhost' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['AUTH_JWT_SECRET', { AUTH_JWT_SECRET: 'short' }],
    ['AUTH_JWT_SECRET', { NODE_ENV: 'production' }],
  ])('refuses a bad %s and names it', (variable, env) => {
    expect(() => loadConfig(schema, env)).toThrow(ConfigError);
    expect(() => loadConfig(schema, env)).toThrow(new RegExp(`${variable}:`));
  });
});
