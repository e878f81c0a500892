import { Database } from '@audit/platform';
import { dropDatabase, serviceDatabase, TEST_JWT_SECRET, uniqueSuffix, waitFor, bearer } from '@audit/testing';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer, IncomingHttpHeaders, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import type { QueryResultRow } from 'pg';
import request from 'supertest';
import { AppModule } from '../src/app/app.module';
import { loadAuditStreamerConfig } from '../src/config';
import { WebhookSender } from '../src/dispatch/webhook-sender';
import { IngestRepository } from '../src/ingest/ingest.repository';
import { streamerTransport } from '../src/ingest/streamer.transport';
import { kafka, Streamer } from './delivery.int-support';

/** One streamer process of a fleet: its app, what its consumer created and what its sender posted. */
export interface Replica {
  name: string;
  app: INestApplication;
  /** URL of every request this replica started, in order (the real sender, counted on its way). */
  sent: string[];
  /** Destination id of every delivery this replica's consumer inserted. */
  created: number[];
}

export interface Fleet {
  replicas: Replica[];
  /** The first replica seen as a `Streamer`, for the helpers of delivery.int-support.ts (HTTP API, topic, group path). */
  streamer: Streamer;
  close: () => Promise<void>;
}

/**
 * `count` streamer applications in this process, as replicas of one deployment: one database, one
 * topic, one consumer group, each with its own INSTANCE_NAME. Resolves once every replica holds
 * partitions of the topic, so that events sent afterwards are spread over all of them.
 */
export async function startFleet(count: number, env: Record<string, string> = {}): Promise<Fleet> {
  const suffix = uniqueSuffix();
  const database = `it_fleet_${suffix}`;
  const topic = `it-fleet-${suffix}`;
  const groupId = `audit-streamer-${suffix}`;
  const dbEnv = await serviceDatabase('audit_streamer', database);
  const replicas: Replica[] = [];
  const close = async () => {
    for (const r of replicas) await r.app.close();
    await dropDatabase(database);
  };
  try {
    for (let i = 0; i < count; i++) {
      const name = `replica-${String.fromCharCode(97 + i)}`;
      const config = loadAuditStreamerConfig({
        ...dbEnv,
        INSTANCE_NAME: name,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: groupId,
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
      app.connectMicroservice({ strategy: streamerTransport(app, config) });
      await app.listen(0, '127.0.0.1');
      await app.startAllMicroservices();
      const replica: Replica = { name, app, sent: [], created: [] };
      const sender = app.get(WebhookSender);
      const send = sender.send.bind(sender);
      sender.send = (outgoing) => {
        replica.sent.push(outgoing.url);
        return send(outgoing);
      };
      const ingest = app.get(IngestRepository);
      const insert = ingest.insertMatching.bind(ingest);
      ingest.insertMatching = async (...args) => {
        const inserted = await insert(...args);
        replica.created.push(...inserted.map((d) => d.destinationId));
        return inserted;
      };
      replicas.push(replica);
    }
    await waitForAssignments(groupId, count);
  } catch (err) {
    await close();
    throw err;
  }
  const first = replicas[0].app;
  const groupPath = `grp-${suffix}`;
  const streamer: Streamer = {
    app: first,
    http: request(first.getHttpServer()),
    topic,
    database,
    groupPath,
    owner: bearer({ sub: '7', name: 'olivia', groups: { [groupPath]: 'owner' } }),
    sql: <T>(query: string, params: unknown[] = []) =>
      first.get(Database).autocommit.query<T & QueryResultRow>(query, params),
    close,
  };
  return { replicas, streamer, close };
}

/** Every member of the group has partitions assigned (the group is stable with `members` members). */
async function waitForAssignments(groupId: string, members: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      `${members} consumers in group ${groupId}, each with partitions`,
      async () => {
        const [group] = (await admin.describeGroups([groupId])).groups;
        return (
          group.state === 'Stable' &&
          group.members.length === members &&
          group.members.every((m) => m.memberAssignment.length > 0)
        );
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } finally {
    await admin.disconnect();
  }
}

export interface TimedRequest {
  headers: IncomingHttpHeaders;
  status: number;
  start: number;
  end: number;
}

/**
 * A receiver that holds every request `holdMs` before answering `status()` and counts the requests
 * in flight at once, as a struggling SIEM would see them. `maxInFlight` is the highest count since
 * the last `resetMax()` (which starts it at the count of that moment).
 */
export async function startCountingReceiver(holdMs: number, initialStatus = 200) {
  let status = initialStatus;
  let inFlight = 0;
  let maxInFlight = 0;
  const requests: TimedRequest[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const start = Date.now();
    open.add(res);
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      inFlight--;
      open.delete(res);
    };
    res.on('close', done);
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        const answered = status;
        res.writeHead(answered).end(() => {
          requests.push({ headers: req.headers, status: answered, start, end: Date.now() });
          done();
        });
      }, holdMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    requests,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    resetMax: () => (maxInFlight = inFlight),
    answer: (next: number) => (status = next),
    /** Distinct release_created event ids answered with a 2xx. */
    deliveredReleases: () =>
      new Set(
        requests
          .filter((r) => r.headers['x-gitlab-audit-event-type'] === 'release_created' && r.status < 300)
          .map((r) => String(r.headers['webhook-id'])),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        open.forEach((r) => r.destroy());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
