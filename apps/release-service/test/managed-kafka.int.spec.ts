import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createKafkaClient, kafkaSecurity } from '@audit/kafka';
import {
  bearer,
  collectTopic,
  dropDatabase,
  SecureBroker,
  serviceDatabase,
  startSecureBroker,
  TEST_JWT_SECRET,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { AppModule } from '../src/app/app.module';
import { loadReleaseServiceConfig } from '../src/config';

/*
 * release-service as deployed against a managed Kafka: a broker of the test's own that demands SASL_SSL with
 * SCRAM-SHA-512, reached through nothing but the service's environment (a CA file, the mechanism, a user and a
 * password file as a Kubernetes Secret is mounted). Boot creates the topics through the admin client and a write
 * is published by the outbox relay, which has a client of its own: both must carry the TLS and SASL settings.
 */
jest.setTimeout(90_000);

const suffix = uniqueSuffix();
const database = `it_managed_kafka_${suffix}`;
let broker: SecureBroker | undefined;
let app: INestApplication | undefined;
let reader: { stop: () => Promise<void> } | undefined;

beforeAll(async () => {
  broker = await startSecureBroker();
});

afterAll(async () => {
  await Promise.all([reader?.stop(), app?.close()].map((p) => p?.catch(() => undefined)));
  await dropDatabase(database);
  await broker?.stop();
});

it('boots against a SASL_SSL broker from its environment and publishes a write through the outbox', async () => {
  if (!broker) throw new Error('the secure broker did not start');
  const passwordFile = join(broker.dir, 'kafka-password');
  writeFileSync(passwordFile, `${broker.password}\n`);
  const topic = `it-managed-${suffix}`;
  const config = loadReleaseServiceConfig({
    ...(await serviceDatabase('release_service', database)),
    KAFKA_BROKERS: broker.brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_SSL_CA_FILE: broker.caFile,
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: broker.username,
    KAFKA_SASL_PASSWORD_FILE: passwordFile,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
  });
  app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  await app.listen(0, '127.0.0.1');
  const http = request(app.getHttpServer());

  const ready = await http.get('/ready').expect(200);
  expect(ready.body.details.kafka).toEqual({ status: 'up', brokers: 1 });

  // A reader on the same settings: the topic exists only if the service created it over SASL_SSL.
  const kafka = createKafkaClient({
    brokers: config.KAFKA_BROKERS,
    clientId: 'it-managed-reader',
    ...kafkaSecurity(config),
  });
  const topicReader = await collectTopic(kafka, topic, `it-managed-${suffix}`);
  reader = topicReader;
  const path = `managed-${suffix}`;
  const group = await http
    .post('/api/v4/groups')
    .set('Authorization', bearer({ sub: '1', name: 'root', admin: true }))
    .send({ path, name: path })
    .expect(201);

  const published = await waitFor('the GroupCreated event on the topic', () =>
    topicReader.messages
      .map((m) => JSON.parse(m.value?.toString() ?? '{}') as { type?: string; scope?: { entity_id?: number } })
      .find((event) => event.type === 'GroupCreated'),
  );
  expect(published.scope?.entity_id).toBe(group.body.id);
});
