import { ConsoleLogger, Logger, LoggerService } from '@nestjs/common';
import { DLQ_HEADERS, dlqTopicFor, messageKeyFor } from '@audit/contracts';
import {
  collectTopic,
  releaseCreatedEvent,
  SecureBroker,
  startSecureBroker,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { KafkaConfig } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { BatchConsumer, ConsumedEvent } from './batch-consumer';
import { KafkaAdminService } from './kafka-admin.service';
import { KafkaOptions } from './kafka.constants';
import { createKafkaClient } from './kafka.module';
import { kafkaSecurity, KafkaSecuritySettings } from './kafka-security';
import { createIdempotentProducer } from './producer';

/*
 * The platform's Kafka clients against a broker that demands SASL_SSL with SCRAM-SHA-512, as a managed Kafka
 * does: the settings of docs/contracts.md, through kafkaSecurity and createKafkaClient (the code path of every
 * client of a service), to KafkaAdminService, the idempotent producer, a BatchConsumer and its dead-letter
 * producer. The broker is this file's own (startSecureBroker), killed in afterAll whatever happened.
 */
jest.setTimeout(90_000);

/** Everything kafkajs (through our logCreator) and the platform log while the tests run. */
const logs: string[] = [];
const remember = (...args: unknown[]) => void logs.push(JSON.stringify(args));
const capture: LoggerService = { log: remember, error: remember, warn: remember, debug: remember, verbose: remember };

let broker: SecureBroker | undefined;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  Logger.overrideLogger(capture);
  broker = await startSecureBroker();
});

afterAll(async () => {
  // Together: each consumer takes up to a fetch's wait (5 s) to leave.
  await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => undefined)));
  await broker?.stop();
  Logger.overrideLogger(new ConsoleLogger());
});

const secure = (): SecureBroker => {
  if (!broker) throw new Error('the secure broker did not start');
  return broker;
};

/** The settings a service deployed against this broker would be given. */
const settings = (overrides: Partial<KafkaSecuritySettings> = {}): KafkaSecuritySettings => ({
  KAFKA_SSL: false, // implied by the CA file
  KAFKA_SSL_CA_FILE: secure().caFile,
  KAFKA_SSL_REJECT_UNAUTHORIZED: true,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: secure().username,
  KAFKA_SASL_PASSWORD: secure().password,
  ...overrides,
});

const options = (s: KafkaSecuritySettings, topic = `it-secure-${uniqueSuffix()}`): KafkaOptions => ({
  brokers: secure().brokers,
  clientId: `it-secure-${uniqueSuffix()}`,
  topic,
  partitions: 1,
  ...kafkaSecurity(s),
});

/** No retries: a refused connection fails at once instead of after the service's minute of retries. */
const noRetry: Pick<KafkaConfig, 'retry'> = { retry: { retries: 0 } };

const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(
    () => {
      throw new Error('expected the connection to fail');
    },
    (err: Error) => err,
  );

describe('Kafka over SASL_SSL with SCRAM-SHA-512 (a broker of its own)', () => {
  it('creates the topics, produces, consumes and dead-letters with the right settings', async () => {
    const config = options(settings());
    expect(config.ssl).toEqual({ ca: expect.stringContaining('BEGIN CERTIFICATE'), rejectUnauthorized: true });
    const kafka = createKafkaClient(config);

    const admin = new KafkaAdminService(kafka, config);
    cleanups.push(() => admin.onApplicationShutdown());
    await admin.onModuleInit(); // the topic and its DLQ, as at a service's boot
    expect(await admin.ping(10_000)).toEqual({ brokers: 1 });

    const handled: ConsumedEvent[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: `it-secure-${uniqueSuffix()}`,
      topic: config.topic,
      handler: async (events) => void handled.push(...events),
    });
    cleanups.push(() => consumer.stop());
    const deadLetters = await collectTopic(kafka, dlqTopicFor(config.topic), `it-secure-dlq-${uniqueSuffix()}`);
    cleanups.push(() => deadLetters.stop());
    await consumer.start();

    const producer = createIdempotentProducer(kafka);
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    const event = releaseCreatedEvent(1);
    await producer.send({
      topic: config.topic,
      acks: -1,
      messages: [
        { key: messageKeyFor(event.scope), value: JSON.stringify(event) },
        { key: 'Project:29', value: 'not json' },
      ],
    });

    await waitFor('the event to be consumed', () => handled.length === 1);
    expect(handled[0]?.event.id).toBe(event.id);
    await waitFor('the unparseable message in the DLQ', () => deadLetters.messages.length === 1);
    expect(deadLetters.messages[0]?.headers?.[DLQ_HEADERS.reason]?.toString()).toBe('unparseable');
  });

  it('refuses a wrong password with an authentication error, and no log line or error carries a password', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const config = options(settings({ KAFKA_SASL_PASSWORD: wrong }));
    const admin = new KafkaAdminService(createKafkaClient(config), config);
    cleanups.push(() => admin.onApplicationShutdown());

    const err = await failure(admin.onModuleInit());

    expect(err.name).toBe('KafkaJSSASLAuthenticationError');
    expect(err.message).toMatch(/SCRAM SHA512 authentication failed.*invalid credentials/);
    const said = [`${err.message} ${err.stack}`, ...logs];
    // kafkajs did log the failure through our logCreator, without either password.
    expect(said.some((line) => /authentication failed/.test(line))).toBe(true);
    expect(said.filter((line) => line.includes(wrong) || line.includes(secure().password))).toEqual([]);
  });

  it('refuses the broker when its certificate cannot be verified: no CA file, or no TLS at all', async () => {
    const untrusted = options(settings({ KAFKA_SSL: true, KAFKA_SSL_CA_FILE: undefined }));
    expect(untrusted.ssl).toEqual({ rejectUnauthorized: true }); // Node's public CAs only
    const refused = createKafkaClient(untrusted, noRetry).admin();
    cleanups.push(() => refused.disconnect());
    expect((await failure(refused.connect())).message).toMatch(/unable to verify the first certificate/);

    const plaintext = options(settings({ KAFKA_SSL_CA_FILE: undefined }));
    expect(plaintext.ssl).toBeUndefined();
    const unencrypted = createKafkaClient(plaintext, noRetry).admin();
    cleanups.push(() => unencrypted.disconnect());
    expect((await failure(unencrypted.connect())).message).toMatch(/Closed connection/); // the broker hangs up

    // The same untrusted broker, verification turned off (allowed outside production only): it connects.
    const unverified = options(
      settings({ KAFKA_SSL: true, KAFKA_SSL_CA_FILE: undefined, KAFKA_SSL_REJECT_UNAUTHORIZED: false }),
    );
    const admin = createKafkaClient(unverified, noRetry).admin();
    cleanups.push(() => admin.disconnect());
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toHaveLength(1);
  });
});
