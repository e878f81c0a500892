import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('exposes metrics and traces nothing by default; takes an OTLP endpoint and a sampling ratio', () => {
    expect(loadConfig(schema, {})).toMatchObject({ METRICS_ENABLED: true, OTEL_TRACES_SAMPLER_ARG: 0.1 });
    expect(loadConfig(schema, {}).OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(
      loadConfig(schema, {
        METRICS_ENABLED: 'false',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com:4318',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }),
    ).toMatchObject({
      METRICS_ENABLED: false,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com:4318',
      OTEL_TRACES_SAMPLER_ARG: 0.25,
    });
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['KAFKA_BROKERS', { KAFKA_BROKERS: 'localhost' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['AUTH_JWT_SECRET', { AUTH_JWT_SECRET: 'short' }],
    ['AUTH_JWT_SECRET', { NODE_ENV: 'production' }],
    ['METRICS_ENABLED', { METRICS_ENABLED: 'maybe' }],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector:4318' }],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/?x=1' }],
    ['OTEL_TRACES_SAMPLER_ARG', { OTEL_TRACES_SAMPLER_ARG: '1.5' }],
    ['OTEL_TRACES_SAMPLER_ARG', { OTEL_TRACES_SAMPLER_ARG: 'half' }],
  ])('refuses a bad %s and names it', (variable, env) => {
    expect(() => loadConfig(schema, env)).toThrow(ConfigError);
    expect(() => loadConfig(schema, env)).toThrow(new RegExp(`${variable}:`));
  });
});

describe('loadConfig: Kafka TLS and SASL', () => {
  // A self-signed CA certificate (EC P-256); only its form matters here, the TLS itself is tested against a broker.
  const CA_PEM = [
    '-----BEGIN CERTIFICATE-----',
    'MIIBiTCCAS+gAwIBAgIUAgn3b2+sGyLaygmUhAi3OHMNhOUwCgYIKoZIzj0EAwIw',
    'GTEXMBUGA1UEAwwOY29uZmlnLXNwZWMtY2EwIBcNMjYxMTI0MTU1NjI1WhgPMjEy',
    'NjEwMzExNTU2MjVaMBkxFzAVBgNVBAMMDmNvbmZpZy1zcGVjLWNhMFkwEwYHKoZI',
    'zj0CAQYIKoZIzj0DAQcDQgAEzY1vDSJXp+hbgYfW9aVT33Io8p1orN5wkHfnqyeK',
    'OsYlvPabA8jVO6PNO8HyZRddX4iZMKZtOd+zDUmQL5CzdKNTMFEwHQYDVR0OBBYE',
    'FPTubKSlZvB5LiPj7uD1kVPsAFipMB8GA1UdIwQYMBaAFPTubKSlZvB5LiPj7uD1',
    'kVPsAFipMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgdaBO/eLV',
    'zng0Nie+GUhDNFeXVyJcwTapcuAejhRHp08CIQCYVKozR+Em/x5OLWja+CHANsr3',
    '+9XATpqSFYxsjqQmyw==',
    '-----END CERTIFICATE-----',
    '',
  ].join('\n');
  const PASSWORD = 'never-in-a-message-3f1c';
  let dir: string;
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const sasl = { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'audit' };

  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'config-spec-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('connects in plaintext without authentication by default', () => {
    const config = loadConfig(schema, {});
    expect(config).toMatchObject({ KAFKA_SSL: false, KAFKA_SSL_REJECT_UNAUTHORIZED: true });
    expect(config.KAFKA_SASL_MECHANISM).toBeUndefined();
  });

  it('takes TLS from a CA file, the mechanism in any case, and the password from a file without its newline', () => {
    const config = loadConfig(schema, {
      KAFKA_SSL_CA_FILE: file('ca.pem', CA_PEM),
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'audit',
      KAFKA_SASL_PASSWORD_FILE: file('password', `${PASSWORD}\n`),
    });
    expect(config).toMatchObject({
      KAFKA_SSL: true,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_PASSWORD: PASSWORD,
    });
  });

  it('lets certificate verification be turned off outside production only', () => {
    expect(loadConfig(schema, { KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' })).toMatchObject({
      KAFKA_SSL_REJECT_UNAUTHORIZED: false,
    });
  });

  const production = { NODE_ENV: 'production', AUTH_JWT_SECRET: 'a-production-secret-of-32-characters-or-more' };
  it.each<[string, () => Record<string, string>]>([
    ['KAFKA_SSL', () => ({ KAFKA_SSL: 'yes' })],
    ['KAFKA_SSL_CA_FILE', () => ({ KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') })],
    ['KAFKA_SSL_CA_FILE', () => ({ KAFKA_SSL_CA_FILE: dir })],
    ['KAFKA_SSL_CA_FILE', () => ({ KAFKA_SSL_CA_FILE: file('key.pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n') })],
    [
      'KAFKA_SSL_CA_FILE',
      () => ({ KAFKA_SSL_CA_FILE: file('torn.pem', CA_PEM.replace('MIIBiTCCAS+', 'MIIBiTCCAS+AAAA')) }),
    ],
    [
      'KAFKA_SSL_REJECT_UNAUTHORIZED',
      () => ({ ...production, KAFKA_SSL: 'true', KAFKA_SSL_REJECT_UNAUTHORIZED: 'false' }),
    ],
    ['KAFKA_SASL_MECHANISM', () => ({ ...sasl, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_PASSWORD: PASSWORD })],
    ['KAFKA_SASL_MECHANISM', () => ({ KAFKA_SASL_USERNAME: 'audit', KAFKA_SASL_PASSWORD: PASSWORD })],
    ['KAFKA_SASL_USERNAME', () => ({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: PASSWORD })],
    ['KAFKA_SASL_PASSWORD', () => ({ ...sasl })],
    [
      'KAFKA_SASL_PASSWORD_FILE',
      () => ({ ...sasl, KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: file('pw', PASSWORD) }),
    ],
    ['KAFKA_SASL_PASSWORD_FILE', () => ({ ...sasl, KAFKA_SASL_PASSWORD_FILE: join(dir, 'no-such-secret') })],
    ['KAFKA_SASL_PASSWORD_FILE', () => ({ ...sasl, KAFKA_SASL_PASSWORD_FILE: file('empty', '\n') })],
  ])('refuses a bad %s, names it and never repeats the password', (variable, env) => {
    let error: unknown;
    try {
      loadConfig(schema, env());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
    expect(
      JSON.stringify({ message: (error as Error).message, problems: (error as ConfigError).problems }),
    ).not.toContain(PASSWORD);
  });
});
