import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import request from 'supertest';
import {
  bearer,
  collectTopic,
  dropDatabase,
  startKafka,
  stopKafka,
  serviceDatabase,
  TEST_DATABASE_URL,
  TEST_JWT_SECRET,
  TEST_KAFKA_BROKERS,
  testKafka,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { AppModule } from '../src/app/app.module';
import { loadReleaseServiceConfig } from '../src/config';
import { OutboxRelay, RELAY_LOCK_KEY } from '@audit/outbox';

/*
 * The outbox relay against the real broker and PostgreSQL, through the whole service over HTTP:
 * Kafka stopped and started again, two instances sharing one database, and the NOTIFY wake-up.
 * Each test has its own database and topic. The first test stops the shared broker, so it is
 * restarted in a `finally` and again in afterAll, whatever happens.
 */
jest.setTimeout(180_000);

const kafka = testKafka('outbox-relay-int');
const admin = bearer({ sub: '1', name: 'root', admin: true });
const databases: string[] = [];
const running = new Set<INestApplication>();
let clients: Client[] = [];
let readers: Array<{ stop: () => Promise<void> }> = [];

// Per test, so that no reader or instance of one test lives through the next test's broker outage.
afterEach(async () => {
  await Promise.all([...readers.map((r) => r.stop()), ...[...running].map(stopInstance)]);
  await Promise.all(clients.map((c) => c.end()));
  [readers, clients] = [[], []];
});
afterAll(async () => {
  await startKafka(); // a no-op when the broker is up
  await Promise.all(databases.map(dropDatabase));
});

type Env = Record<string, string>;

async function environment(overrides: Env = {}): Promise<Env> {
  const suffix = uniqueSuffix();
  databases.push(`it_relay_${suffix}`);
  return {
    ...(await serviceDatabase('release_service', `it_relay_${suffix}`)),
    KAFKA_BROKERS: TEST_KAFKA_BROKERS.join(','),
    KAFKA_TOPIC: `it-relay-${suffix}`,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    ...overrides,
  };
}

async function startInstance(env: Env): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(loadReleaseServiceConfig(env)), { logger: false });
  await app.listen(0, '127.0.0.1');
  running.add(app);
  return app;
}

async function stopInstance(app: INestApplication): Promise<void> {
  running.delete(app);
  await app.close();
}

const isLeader = (app: INestApplication) => app.get(OutboxRelay).isLeader;

/** A connection of the test's own, so assertions do not depend on which instance is still up. */
async function database(env: Env): Promise<Client> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${env.DATABASE_NAME}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  clients.push(client);
  return client;
}

interface OutboxEntry {
  id: string;
  event_id: string;
  message_key: string;
  published: boolean;
}
const outbox = async (db: Client): Promise<OutboxEntry[]> =>
  (
    await db.query<OutboxEntry>(
      'select id, event_id, message_key, published_at is not null as published from outbox order by id',
    )
  ).rows;

async function readTopic(env: Env) {
  const reader = await collectTopic(kafka, env.KAFKA_TOPIC, `relay-reader-${uniqueSuffix()}`);
  readers.push(reader);
  return () =>
    reader.messages.map((m) => ({
      key: m.key?.toString() ?? '',
      id: (JSON.parse(m.value?.toString() ?? '{}') as { id: string }).id,
    }));
}

async function createProject(app: INestApplication, path: string): Promise<number> {
  const http = request(app.getHttpServer());
  const group = await http.post('/api/v4/groups').set('Authorization', admin).send({ path, name: path }).expect(201);
  const project = await http
    .post('/api/v4/projects')
    .set('Authorization', admin)
    .send({ path: 'app', name: 'App', namespace_id: group.body.id })
    .expect(201);
  return project.body.id as number;
}

const createRelease = (app: INestApplication, projectId: number, tag: string) =>
  request(app.getHttpServer())
    .post(`/api/v4/projects/${projectId}/releases`)
    .set('Authorization', admin)
    .send({ tag_name: tag, name: `Release ${tag}` });

/** Waits until every outbox row is marked published and its event is on the topic; returns both. */
async function waitUntilAllPublished(db: Client, topic: () => Array<{ key: string; id: string }>, timeoutMs = 60_000) {
  return waitFor(
    'every outbox row published and on the topic',
    async () => {
      const rows = await outbox(db);
      const onTopic = new Set(topic().map((m) => m.id));
      return rows.every((r) => r.published && onTopic.has(r.event_id)) ? { rows, messages: topic() } : undefined;
    },
    { timeoutMs },
  );
}

function expectExactlyOnceInOrder(rows: OutboxEntry[], messages: Array<{ key: string; id: string }>): void {
  expect(messages.map((m) => m.id).sort()).toEqual(rows.map((r) => r.event_id).sort());
  const byKey = <T>(items: T[], key: (t: T) => string, id: (t: T) => string) =>
    items.reduce((m, t) => m.set(key(t), [...(m.get(key(t)) ?? []), id(t)]), new Map<string, string[]>());
  // Outbox rows are read in id order, so this is "topic order per key equals outbox id order".
  expect(
    byKey(
      messages,
      (m) => m.key,
      (m) => m.id,
    ),
  ).toEqual(
    byKey(
      rows,
      (r) => r.message_key,
      (r) => r.event_id,
    ),
  );
}

describe('outbox relay (real Kafka and PostgreSQL)', () => {
  it('with Kafka stopped, accepts every write and publishes nothing; once Kafka is back, publishes each event once, in order per key', async () => {
    const env = await environment();
    const app = await startInstance(env);
    const db = await database(env);
    const projects = [
      await createProject(app, `down-${uniqueSuffix()}`),
      await createProject(app, `down-${uniqueSuffix()}`),
    ];
    await waitFor('the set-up events published', async () => (await outbox(db)).every((r) => r.published));

    let pending: OutboxEntry[];
    try {
      await stopKafka();
      for (let i = 0; i < 20; i += 1) {
        const res = await createRelease(app, projects[i % 2], `v${i}.0.0`);
        expect(res.status).toBe(201);
      }
      pending = (await outbox(db)).filter((r) => !r.published);
      expect(pending).toHaveLength(20);
    } finally {
      await startKafka();
    }
    const topic = await readTopic(env);
    const { rows, messages } = await waitUntilAllPublished(db, topic);
    expect(rows).toHaveLength(24); // 2 groups, 2 projects, 20 releases
    expect(pending.every((p) => rows.some((r) => r.event_id === p.event_id && r.published))).toBe(true);
    expectExactlyOnceInOrder(rows, messages);
  });

  it('shuts down within its bound while Kafka is down, and the next instance publishes what was left', async () => {
    const env = await environment({ SHUTDOWN_TIMEOUT_MS: '8000' }); // relay grace: 2 s per step
    let app = await startInstance(env);
    const db = await database(env);
    const projectId = await createProject(app, `halt-${uniqueSuffix()}`);
    await waitFor('the set-up events published', async () => (await outbox(db)).every((r) => r.published));
    let closedInMs: number;
    try {
      await stopKafka();
      for (let i = 0; i < 5; i += 1) expect((await createRelease(app, projectId, `v${i}.0.0`)).status).toBe(201);
      await waitFor('the relay to lead (its pass is now failing against the stopped broker)', () => isLeader(app));
      const started = Date.now();
      await stopInstance(app);
      closedInMs = Date.now() - started;
    } finally {
      await startKafka();
    }
    // The grace is 2 s for the pass, the session and the producer each; the rest of the app is quick.
    expect(closedInMs).toBeLessThan(15_000);
    expect((await outbox(db)).filter((r) => !r.published)).toHaveLength(5);
    app = await startInstance(env);
    const topic = await readTopic(env);
    const { rows, messages } = await waitUntilAllPublished(db, topic);
    expectExactlyOnceInOrder(rows, messages);
  });

  it('with two instances, exactly one publishes, every event once; closing it hands publishing to the other', async () => {
    const env = await environment();
    const first = await startInstance(env);
    const second = await startInstance(env);
    const db = await database(env);
    const topic = await readTopic(env);
    await waitFor('exactly one leader', () => [first, second].filter(isLeader).length === 1);

    const projectId = await createProject(first, `pair-${uniqueSuffix()}`);
    const writes = Array.from({ length: 20 }, (_, i) => createRelease(i % 2 ? second : first, projectId, `v${i}.0.0`));
    expect((await Promise.all(writes)).map((r) => r.status)).toEqual(Array(20).fill(201));
    const before = await waitUntilAllPublished(db, topic);
    expect(before.rows).toHaveLength(22);
    expect(before.messages).toHaveLength(22);
    expect(new Set(before.messages.map((m) => m.id)).size).toBe(22);

    const [leader, standby] = isLeader(first) ? [first, second] : [second, first];
    await stopInstance(leader);
    await waitFor('the other instance to take over', () => isLeader(standby));
    for (let i = 0; i < 5; i += 1) expect((await createRelease(standby, projectId, `after-${i}`)).status).toBe(201);
    const after = await waitUntilAllPublished(db, topic);
    expect(after.rows).toHaveLength(27);
    expect(after.messages).toHaveLength(27);
    expect(new Set(after.messages.map((m) => m.id)).size).toBe(27);
    // Concurrent writes commit in an order their outbox ids need not follow, so order is checked
    // only for the sequential writes made after the take-over.
    expect(after.messages.slice(-5).map((m) => m.id)).toEqual(after.rows.slice(-5).map((r) => r.event_id));
  });

  it('publishes a write made through the standby at once (NOTIFY), long before the 30 s poll', async () => {
    const env = await environment({ OUTBOX_POLL_INTERVAL_MS: '30000' });
    const leader = await startInstance(env);
    await waitFor('the first instance to lead', () => isLeader(leader));
    const standby = await startInstance(env);
    const db = await database(env);
    const topic = await readTopic(env);

    const projectId = await createProject(standby, `wake-${uniqueSuffix()}`);
    expect((await createRelease(standby, projectId, 'v1.0.0')).status).toBe(201);
    // Neither the leader's poll (30 s) nor its own wake() (the writes went through the standby) can
    // explain a publication within 10 s: only the NOTIFY from the standby's commits can.
    const { rows, messages } = await waitUntilAllPublished(db, topic, 10_000);
    expect(rows).toHaveLength(3);
    expectExactlyOnceInOrder(rows, messages);
    expect([isLeader(leader), isLeader(standby)]).toEqual([true, false]);
  });

  it("when the leader's PostgreSQL session dies, its lock goes with it and publishing goes on", async () => {
    const env = await environment();
    const first = await startInstance(env);
    const second = await startInstance(env);
    const db = await database(env);
    const topic = await readTopic(env);
    const projectId = await createProject(first, `lost-${uniqueSuffix()}`);
    await waitUntilAllPublished(db, topic);

    const terminated = await db.query(
      `select pg_terminate_backend(pid) from pg_locks
        where locktype = 'advisory' and granted and objid = $1 and database = (select oid from pg_database where datname = current_database())`,
      [RELAY_LOCK_KEY],
    );
    expect(terminated.rowCount).toBe(1);
    expect((await createRelease(second, projectId, 'v1.0.0')).status).toBe(201);
    const { rows, messages } = await waitUntilAllPublished(db, topic);
    expect(rows).toHaveLength(3);
    expectExactlyOnceInOrder(rows, messages);
    await waitFor('exactly one leader again', () => [first, second].filter(isLeader).length === 1);
  });
  it('prunes published rows past OUTBOX_RETENTION_MS and keeps those within it; every event still reaches Kafka', async () => {
    const pruning = await environment({ OUTBOX_RETENTION_MS: '0', OUTBOX_PRUNE_INTERVAL_MS: '100' });
    const keeping = await environment({ OUTBOX_PRUNE_INTERVAL_MS: '100' }); // the default retention: 7 days
    const runs = await Promise.all(
      [pruning, keeping].map(async (env) => {
        const app = await startInstance(env); // creates the topic
        const topic = await readTopic(env);
        const projectId = await createProject(app, `prune-${uniqueSuffix()}`);
        for (const tag of ['v1', 'v2', 'v3']) await createRelease(app, projectId, tag).expect(201);
        return { env, app, topic, db: await database(env) };
      }),
    );
    const [pruned, kept] = runs;
    // group, project and three releases: five events, each on the topic once, whatever the outbox keeps.
    await waitFor('the pruning instance to publish and then delete every row', async () => {
      const rows = await outbox(pruned.db);
      return rows.length === 0 && new Set(pruned.topic().map((m) => m.id)).size === 5 ? true : undefined;
    });
    expect(pruned.topic()).toHaveLength(5);

    const { rows } = await waitUntilAllPublished(kept.db, kept.topic);
    const publishedAt = Date.now();
    const relay = kept.app.get(OutboxRelay) as unknown as { prunedAt: number };
    await waitFor('a prune of the keeping instance after every row was published', () => relay.prunedAt > publishedAt);
    expect(await outbox(kept.db)).toEqual(rows);
    expect(rows).toHaveLength(5);
  });
});
