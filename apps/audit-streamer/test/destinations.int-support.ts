import { DomainEvent } from '@audit/contracts';
import {
  dropDatabase,
  serviceDatabase,
  TEST_JWT_SECRET,
  collectTopic,
  testKafka,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { Database } from '@audit/platform';
import { INestApplication } from '@nestjs/common';
import type { QueryResultRow } from 'pg';
import { NestFactory } from '@nestjs/core';
import { KafkaMessage } from 'kafkajs';
import { AppModule } from '../src/app/app.module';
import { streamerTransport } from '../src/ingest/streamer.transport';
import { loadAuditStreamerConfig } from '../src/config';

/*
 * Shared by the integration tests of the destinations API: the streamer in-process on its own
 * database and topic, the namespaces it would learn from GroupCreated inserted directly, and a
 * reader of the topic the outbox publishes to.
 */

export const GRACE_PERIOD_MS = 60_000;
/** The only internal address the allowlist lets through; nothing listens on it, so deliveries fail fast. */
export const ALLOWED_URL = 'https://127.0.0.2:9/ingest';

export interface StreamerUnderTest {
  app: INestApplication;
  /** Domain events published to the test's topic so far, parsed, with their Kafka keys. */
  published(): Array<{ key: string; event: DomainEvent; raw: string }>;
  /** Waits until an event of `type` matching `where` has been published, and returns it. */
  waitForEvent(type: string, where?: (event: DomainEvent) => boolean): Promise<DomainEvent>;
  sql<T = Record<string, unknown>>(query: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function startStreamer(name: string, env: Record<string, string> = {}): Promise<StreamerUnderTest> {
  const suffix = uniqueSuffix();
  const database = `it_streamer_${name}_${suffix}`;
  const topic = `it-streamer-${name}-${suffix}`;
  const config = loadAuditStreamerConfig({
    ...(await serviceDatabase('audit_streamer', database)),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `audit-streamer-${suffix}`,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    STREAMING_ALLOWED_HOSTS: '127.0.0.2',
    STREAMING_SECRET_GRACE_PERIOD_MS: String(GRACE_PERIOD_MS),
    DELIVERY_TIMEOUT_MS: '1000',
    ...env,
  });
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  // The consumer as main.ts runs it: a Nest microservice on the Kafka chunk transport.
  app.connectMicroservice({ strategy: streamerTransport(app, config) });
  await app.listen(0, '127.0.0.1');
  await app.startAllMicroservices();
  const collected = await collectTopic(testKafka(`collector-${suffix}`), topic, `collector-${suffix}`);
  const published = () =>
    collected.messages.map((m: KafkaMessage) => {
      const raw = m.value?.toString('utf8') ?? '';
      return { key: m.key?.toString('utf8') ?? '', event: JSON.parse(raw) as DomainEvent, raw };
    });
  return {
    app,
    published,
    waitForEvent: (type, where = () => true) =>
      waitFor(`a ${type} on ${topic}`, () => published().find((p) => p.event.type === type && where(p.event))?.event),
    sql: <T>(query: string, params: unknown[] = []) =>
      app.get(Database).autocommit.query<T & QueryResultRow>(query, params),
    close: async () => {
      await collected.stop();
      await app.close();
      await dropDatabase(database);
    },
  };
}

export interface Namespace {
  kind: 'Group' | 'Project';
  id: number;
  full_path: string;
  parent_id: number | null;
}

/** What the consumer would have built from GroupCreated/ProjectCreated. */
export async function insertNamespaces(streamer: StreamerUnderTest, namespaces: Namespace[]): Promise<void> {
  await streamer.sql(
    `insert into namespaces (kind, id, full_path, parent_id)
     select kind, id, full_path, parent_id from json_to_recordset($1::json) as x(kind text, id bigint, full_path text, parent_id bigint)`,
    [JSON.stringify(namespaces)],
  );
}

export async function outboxCount(streamer: StreamerUnderTest): Promise<number> {
  const [{ count }] = await streamer.sql<{ count: number }>('select count(*)::int as count from outbox');
  return count;
}

/** `data.destination_id` of an event, for matching events to the destination a test created. */
export const destinationIdOf = (event: DomainEvent): number | undefined =>
  (event.data as { destination_id?: number }).destination_id;
