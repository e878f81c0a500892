import { DomainEvent, DomainEventSchemas, messageKeyFor } from '@audit/contracts';
import {
  bearer,
  dropDatabase,
  serviceDatabase,
  TEST_JWT_SECRET,
  testKafka,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { Database } from '@audit/platform';
import { INestApplication } from '@nestjs/common';
import type { QueryResultRow } from 'pg';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import { createServer, IncomingHttpHeaders, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Producer } from 'kafkajs';
import request from 'supertest';
import { AppModule } from '../src/app/app.module';
import { streamerTransport } from '../src/ingest/streamer.transport';
import { loadAuditStreamerConfig } from '../src/config';

/** Shared by the delivery integration tests: an in-process streamer, a producer, controllable receivers. */
export const kafka = testKafka('streamer-delivery-int');

export interface Streamer {
  app: INestApplication;
  http: ReturnType<typeof request>;
  topic: string;
  /** The streamer's own database, for checks after the app has closed. */
  database: string;
  groupPath: string;
  owner: string;
  sql: <T = Record<string, unknown>>(query: string, params?: unknown[]) => Promise<T[]>;
  close: () => Promise<void>;
}

/** Boots the streamer with its own database, topic and consumer group; every delivery knob can be overridden. */
export async function startStreamer(env: Record<string, string> = {}): Promise<Streamer> {
  const suffix = uniqueSuffix();
  const database = `it_streamer_${suffix}`;
  const topic = `it-streamer-${suffix}`;
  const config = loadAuditStreamerConfig({
    ...(await serviceDatabase('audit_streamer', database)),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `audit-streamer-${suffix}`,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    STREAMING_ALLOW_HTTP: 'true',
    STREAMING_ALLOWED_HOSTS: '127.0.0.1',
    DELIVERY_POLL_INTERVAL_MS: '100',
    DELIVERY_RETRY_BASE_MS: '100',
    DELIVERY_RETRY_MAX_MS: '1000',
    DELIVERY_PAUSE_MAX_MS: '300',
    ...env,
  });
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  // The consumer as main.ts runs it: a Nest microservice on the Kafka chunk transport.
  app.connectMicroservice({ strategy: streamerTransport(app, config) });
  await app.listen(0, '127.0.0.1');
  await app.startAllMicroservices();
  const groupPath = `grp-${suffix}`;
  const sql = <T>(query: string, params: unknown[] = []) =>
    app.get(Database).autocommit.query<T & QueryResultRow>(query, params);
  return {
    app,
    http: request(app.getHttpServer()),
    topic,
    database,
    groupPath,
    sql,
    owner: bearer({ sub: '7', name: 'olivia', groups: { [groupPath]: 'owner' } }),
    close: async () => {
      await app.close();
      await dropDatabase(database);
    },
  };
}

let producer: Producer | null = null;

export async function send(topic: string, events: DomainEvent[]): Promise<void> {
  if (!producer) {
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e) })),
  });
}

export async function disconnectProducer(): Promise<void> {
  await producer?.disconnect();
  producer = null;
}

export function groupCreatedEvent(groupId: number, fullPath: string): DomainEvent {
  return DomainEventSchemas.GroupCreated.parse({
    id: randomUUID(),
    type: 'GroupCreated',
    schema_version: 1,
    occurred_at: new Date().toISOString(),
    aggregate: { type: 'Group', id: String(groupId), version: 1 },
    actor: { id: 1, name: 'alice', ip_address: null },
    scope: { entity_type: 'Group', entity_id: groupId, entity_path: fullPath },
    correlation_id: `c-${groupId}`,
    data: { group_id: groupId, path: fullPath, name: fullPath, full_path: fullPath, parent_id: null },
  }) as DomainEvent;
}

/** Publishes the group and creates one destination per URL once the streamer knows the group; returns their ids. */
export async function createDestinations(s: Streamer, urls: string[]): Promise<number[]> {
  await send(s.topic, [groupCreatedEvent(1000, s.groupPath)]);
  const ids: number[] = [];
  for (const [i, url] of urls.entries()) {
    const created = await waitFor('the streamer to know the group', async () => {
      const res = await s.http
        .post(`/api/v4/groups/${s.groupPath}/audit_events/streaming/destinations`)
        .set('Authorization', s.owner)
        .send({ destination_url: url, name: `dest-${i}` });
      return res.status === 201
        ? (res.body as { id: number })
        : res.status === 404
          ? undefined
          : Promise.reject(new Error(`${res.status} ${JSON.stringify(res.body)}`));
    });
    ids.push(created.id);
  }
  return ids;
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
  at: number;
}

/** What a receiver does with one request: answer (status, headers, optionally after a delay) or hang until the client gives up. */
export type Behaviour = (req: {
  headers: IncomingHttpHeaders;
  body: string;
}) => { status: number; headers?: Record<string, string>; afterMs?: number } | 'hang';

/** A keep-alive HTTP receiver on 127.0.0.1 whose behaviour a test can change while it runs. */
export async function startControlledReceiver(initial: Behaviour = () => ({ status: 200 })) {
  const requests: Received[] = [];
  let behaviour = initial;
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const answer = behaviour({ headers: req.headers, body });
      requests.push({ headers: req.headers, body, status: answer === 'hang' ? 0 : answer.status, at: Date.now() });
      if (answer === 'hang') return void hanging.add(res);
      const reply = () => {
        res.writeHead(answer.status, answer.headers ?? {});
        res.end();
      };
      // A slow receiver: answers after `afterMs`.
      if (answer.afterMs) setTimeout(reply, answer.afterMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    port,
    requests,
    set: (next: Behaviour) => (behaviour = next),
    /** Distinct release_created event ids answered with a 2xx (configuration changes are streamed too: not counted). */
    deliveredIds: () =>
      new Set(
        releaseRequests(requests)
          .filter((r) => r.status >= 200 && r.status < 300)
          .map((r) => String(r.headers['webhook-id'])),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        hanging.forEach((r) => r.destroy());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The requests of the release events a test sent (the streamer also streams its own configuration changes). */
export const releaseRequests = (requests: Received[]): Received[] =>
  requests.filter((r) => r.headers['x-gitlab-audit-event-type'] === 'release_created');
