import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer } from 'node:net';
import { Client } from 'pg';
import request from 'supertest';
import {
  bearer,
  dropDatabase,
  serviceDatabase,
  TEST_DATABASE_URL,
  TEST_JWT_SECRET,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { Database } from '@audit/platform';
import { AppModule } from '../src/app/app.module';
import { loadReleaseServiceConfig } from '../src/config';

/*
 * Two release-service replicas on one database, started while Kafka is unreachable (their brokers point
 * at a port where nothing listens; the shared broker is never touched): they boot, accept writes into
 * the outbox, and are ready, reporting Kafka down. A database that does not answer makes them unready.
 */
jest.setTimeout(120_000);

const suffix = uniqueSuffix();
const database = `it_release_nokafka_${suffix}`;
const admin = bearer({ sub: '1', name: 'root', admin: true });
let replicas: INestApplication[] = [];
let bootMs: number[] = [];

/** A port where nothing listens: taken from the system, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function superuser<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  const db = await serviceDatabase('release_service', database);
  const common = {
    ...db,
    KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
    KAFKA_TOPIC: `it-release-nokafka-${suffix}`,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
  };
  const envs = [
    { ...common, INSTANCE_NAME: 'release-service-0', TRUSTED_PROXIES: '127.0.0.1' },
    { ...common, INSTANCE_NAME: 'release-service-1', PUBLIC_URL: 'https://releases.example/gitlab/' },
  ];
  for (const env of envs) {
    const started = Date.now();
    const app = await NestFactory.create(AppModule.forRoot(loadReleaseServiceConfig(env)), { logger: false });
    await app.listen(0, '127.0.0.1');
    bootMs.push(Date.now() - started);
    replicas.push(app);
  }
});
afterAll(async () => {
  await Promise.all(replicas.map((app) => app.close()));
  replicas = [];
  bootMs = [];
  await dropDatabase(database);
});

const http = (replica: number) => request(replicas[replica].getHttpServer());

describe('release-service while Kafka is unreachable', () => {
  it('boots without waiting for Kafka, accepts writes into the outbox, and is ready with Kafka reported down', async () => {
    // The first attempt to reach Kafka fails within a second or two; boot does not wait out kafkajs's retries.
    expect(Math.max(...bootMs)).toBeLessThan(15_000);

    const group = await http(0)
      .post('/api/v4/groups')
      .set('Authorization', admin)
      .send({ path: `g-${suffix}`, name: 'G' });
    expect(group.status).toBe(201);
    const project = await http(1)
      .post('/api/v4/projects')
      .set('Authorization', admin)
      .send({ path: 'app', name: 'App', namespace_id: group.body.id })
      .expect(201);
    for (const tag of ['v1', 'v2'])
      await http(0)
        .post(`/api/v4/projects/${project.body.id}/releases`)
        .set('Authorization', admin)
        .send({ tag_name: tag })
        .expect(201);

    // Every write waits in the outbox for the relay, none published.
    const [outbox] = await replicas[0]
      .get(Database)
      .autocommit.query<{ total: number; unpublished: number }>(
        'select count(*)::int as total, count(*) filter (where published_at is null)::int as unpublished from outbox',
      );
    expect(outbox).toEqual({ total: 4, unpublished: 4 });

    for (const replica of [0, 1]) {
      const ready = await http(replica).get('/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' }, kafka: { status: 'down', message: expect.any(String) } },
      });
    }
  });

  it('pagination links: relative whatever the forwarded headers say, absolute on PUBLIC_URL when set', async () => {
    const group = await http(0)
      .post('/api/v4/groups')
      .set('Authorization', admin)
      .send({ path: `l-${suffix}`, name: 'L' })
      .expect(201);
    const project = await http(0)
      .post('/api/v4/projects')
      .set('Authorization', admin)
      .send({ path: 'app', name: 'App', namespace_id: group.body.id })
      .expect(201);
    const releases = `/api/v4/projects/${project.body.id}/releases`;
    for (const tag of ['v1', 'v2'])
      await http(0).post(releases).set('Authorization', admin).send({ tag_name: tag }).expect(201);
    const forwarded = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', Host: 'evil.example' };

    const fromTrustedProxy = await http(0)
      .get(`${releases}?per_page=1`)
      .set('Authorization', admin)
      .set(forwarded)
      .expect(200);
    expect(fromTrustedProxy.headers['link']).toBe(`<${releases}?per_page=1&page=2>; rel="next"`);
    const onPublicUrl = await http(1)
      .get(`${releases}?per_page=1`)
      .set('Authorization', admin)
      .set({ ...forwarded, 'X-Forwarded-Proto': 'http' })
      .expect(200);
    expect(onPublicUrl.headers['link']).toBe(
      `<https://releases.example/gitlab${releases}?per_page=1&page=2>; rel="next"`,
    );
  });

  it('is not ready (503, database down) while its database does not answer, and ready again after', async () => {
    await superuser(async (client) => {
      await client.query(`alter database "${database}" with allow_connections false`);
      await client.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [database]);
    });
    try {
      const unready = await waitFor('/ready to answer 503', async () => {
        const res = await http(0).get('/ready');
        return res.status === 503 ? res : undefined;
      });
      expect(unready.body).toMatchObject({
        status: 'error',
        info: {},
        error: { database: { status: 'down' } },
        details: { database: { status: 'down' }, kafka: { status: 'down' } },
      });
    } finally {
      await superuser((client) => client.query(`alter database "${database}" with allow_connections true`));
    }
    await waitFor('/ready to answer 200 again', async () => (await http(0).get('/ready')).status === 200);
  });
});
