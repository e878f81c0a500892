import { z } from 'zod';
import { baseConfigShape, ConfigError, loadConfig } from './config';

const schema = z.object({ ...baseConfigShape({ port: 3002, database: 'audit_recorder' }) });

describe('loadConfig: Kafka topic partitions and consumer group timing', () => {
  it('defaults to 12 partitions, a 10 s session and a 1 s heartbeat', () => {
    expect(loadConfig(schema, {})).toMatchObject({
      KAFKA_TOPIC_PARTITIONS: 12,
      KAFKA_SESSION_TIMEOUT_MS: 10_000,
      KAFKA_HEARTBEAT_INTERVAL_MS: 1_000,
    });
  });

  it('accepts the broker minimum session with a heartbeat just under a third of it', () => {
    const config = loadConfig(schema, { KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '1999' });
    expect(config).toMatchObject({ KAFKA_SESSION_TIMEOUT_MS: 6000, KAFKA_HEARTBEAT_INTERVAL_MS: 1999 });
  });

  it.each([
    ['KAFKA_SESSION_TIMEOUT_MS', { KAFKA_SESSION_TIMEOUT_MS: '5999' }, /KAFKA_SESSION_TIMEOUT_MS:/],
    ['KAFKA_SESSION_TIMEOUT_MS', { KAFKA_SESSION_TIMEOUT_MS: 'ten seconds' }, /KAFKA_SESSION_TIMEOUT_MS:/],
    ['KAFKA_HEARTBEAT_INTERVAL_MS', { KAFKA_HEARTBEAT_INTERVAL_MS: '0' }, /KAFKA_HEARTBEAT_INTERVAL_MS:/],
    [
      'KAFKA_HEARTBEAT_INTERVAL_MS (a third of the default session)',
      { KAFKA_HEARTBEAT_INTERVAL_MS: '3334' },
      /KAFKA_HEARTBEAT_INTERVAL_MS: must be less than a third of KAFKA_SESSION_TIMEOUT_MS \(10000\)/,
    ],
    [
      'KAFKA_HEARTBEAT_INTERVAL_MS (exactly a third)',
      { KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '2000' },
      /KAFKA_HEARTBEAT_INTERVAL_MS: must be less than a third of KAFKA_SESSION_TIMEOUT_MS \(6000\)/,
    ],
  ])('refuses a bad %s and names it', (_name, env, message) => {
    expect(() => loadConfig(schema, env)).toThrow(ConfigError);
    expect(() => loadConfig(schema, env)).toThrow(message);
  });
});
