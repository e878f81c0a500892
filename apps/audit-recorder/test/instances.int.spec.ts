import { INestApplication } from '@nestjs/common';
import { messageKeyFor } from '@audit/contracts';
import { Database } from '@audit/platform';
import {
  bearer,
  dropDatabase,
  releaseCreatedEvent,
  serviceDatabase,
  startKafka,
  stopKafka,
  TEST_JWT_SECRET,
  testKafka,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Producer } from 'kafkajs';
import request from 'supertest';
import { startRecorder as startRecorderWithHttp } from './audit-events.int-support';
import { startRecorder } from './recorder.int-support';

/*
 * Recorder instances side by side, against the real PostgreSQL and Kafka: each appends its JSON log to
 * a file of its own (AUDIT_LOG_FILE with {instance}), or to stdout; and a recorder whose Kafka goes
 * away stays ready, serving its query API. The outage is of a broker of this test's own (port 19192,
 * own data folder), never the shared one.
 */
jest.setTimeout(240_000);

const ROOT = join(__dirname, '..', '..', '..');
const kafka = testKafka('recorder-instances-int');
const folder = mkdtempSync(join(tmpdir(), 'recorder-instances-'));
const databases: string[] = [];
let producer: Producer;

beforeAll(async () => {
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});
afterAll(async () => {
  await producer.disconnect();
  await Promise.all(databases.map(dropDatabase));
  rmSync(folder, { recursive: true, force: true });
});

async function environment(suffix: string) {
  const database = `it_recorder_inst_${suffix}`;
  databases.push(database);
  return {
    ...(await serviceDatabase('audit_recorder', database)),
    KAFKA_TOPIC: `it-recorder-inst-${suffix}`,
    KAFKA_GROUP_ID: `audit-recorder-${suffix}`,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    CONSUMER_CHUNK_SIZE: '5',
  };
}

/** 30 events of 30 projects, 10 on each of the topic's 3 partitions. */
async function sendEvents(topic: string): Promise<void> {
  const events = Array.from({ length: 30 }, (_, i) => releaseCreatedEvent(i + 1, i + 1, `g/p${i + 1}`));
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e, i) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e), partition: i % 3 })),
  });
}

const storedCount = async (app: INestApplication): Promise<number> =>
  (await app.get(Database).autocommit.query<{ n: number }>('select count(*)::int as n from audit_events'))[0].n;

/** The domain event ids behind the audit events of a JSON log (one audit event per ReleaseCreated). */
const correlationsOf = (lines: string[]): string[] =>
  lines.map((line) => (JSON.parse(line) as { details: { correlation_id: string } }).details.correlation_id);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('audit-recorder instances', () => {
  it('two instances of one group, named apart, each append to a file of their own', async () => {
    const env = {
      ...(await environment(uniqueSuffix())),
      AUDIT_LOG_FILE: join(folder, 'log', 'audit_json.{instance}.log'),
      AUDIT_LOG_ROTATE_DAILY: 'false', // the test reads the active files only
    };
    const recorders = [
      await startRecorder({ ...env, INSTANCE_NAME: 'audit-recorder-0' }),
      await startRecorder({ ...env, INSTANCE_NAME: 'audit-recorder-1' }),
    ];
    try {
      const admin = kafka.admin();
      await admin.connect();
      try {
        // Both members hold partitions before anything is sent: each event is consumed by one of them.
        await waitFor(
          'both instances in the group, each with partitions',
          async () => {
            const [group] = (await admin.describeGroups([env.KAFKA_GROUP_ID])).groups;
            return (
              group.state === 'Stable' &&
              group.members.length === 2 &&
              group.members.every((m) => m.memberAssignment.length > 0)
            );
          },
          { timeoutMs: 90_000, intervalMs: 250 },
        );
      } finally {
        await admin.disconnect();
      }
      await sendEvents(env.KAFKA_TOPIC);
      await waitFor('the 30 audit events stored', async () => (await storedCount(recorders[0])) === 30);

      const files = ['audit-recorder-0', 'audit-recorder-1'].map((name) =>
        join(folder, 'log', `audit_json.${name}.log`),
      );
      const lines = await waitFor('both logs with every stored event', () => {
        if (!files.every((file) => existsSync(file))) return undefined;
        const perFile = files.map((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean));
        return perFile[0].length + perFile[1].length >= 30 ? perFile : undefined;
      });
      const [first, second] = lines.map(correlationsOf);
      expect(first.length).toBeGreaterThan(0);
      expect(second.length).toBeGreaterThan(0);
      expect(first.filter((id) => second.includes(id))).toEqual([]);
      expect(new Set([...first, ...second]).size).toBe(30);
      // Nothing went to a file named after the template itself.
      expect(existsSync(join(folder, 'log', 'audit_json.{instance}.log'))).toBe(false);
    } finally {
      await Promise.all(recorders.map((app) => app.close()));
    }
  });

  it('with AUDIT_LOG_FILE=-, writes each stored audit event as a JSON line on stdout, beside its log lines', async () => {
    const env = await environment(uniqueSuffix());
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: env.KAFKA_TOPIC, numPartitions: 3 }] });
    await admin.disconnect();
    await sendEvents(env.KAFKA_TOPIC);
    const child: ChildProcess = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(ROOT, 'apps', 'audit-recorder', 'src', 'main.ts')],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          ...env,
          PORT: String(await freePort()),
          INSTANCE_NAME: 'audit-recorder-stdout',
          AUDIT_LOG_FILE: '-',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const lines = await waitFor(
        'the 30 audit events on stdout',
        () => {
          if (child.exitCode !== null) throw new Error(`the recorder exited: ${stderr}`);
          const parsed = stdout
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as Record<string, unknown>);
          const audit = parsed.filter((line) => 'event_type' in line);
          return audit.length >= 30 ? { audit, logs: parsed.filter((line) => 'level' in line) } : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      // Every line of stdout is whole JSON (parsed above), audit events and logs apart by their fields.
      expect(new Set(lines.audit.map((a) => (a['details'] as { correlation_id: string }).correlation_id)).size).toBe(
        30,
      );
      expect(lines.audit.every((a) => a['event_type'] === 'release_created')).toBe(true);
      expect(lines.logs.length).toBeGreaterThan(0);
      expect(lines.logs.every((l) => l['instance'] === 'audit-recorder-stdout')).toBe(true);
      expect(existsSync(join(ROOT, '-'))).toBe(false);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('stays ready, serving its query API, while its Kafka is unreachable; reports Kafka down', async () => {
    const broker = {
      KAFKA_PORT: '19192',
      KAFKA_CONTROLLER_PORT: '19193',
      KAFKA_DATA_DIR: join(folder, 'kafka', 'data'),
      KAFKA_LOG_DIR: join(folder, 'kafka', 'logs'),
      KAFKA_HEAP: '384m',
    };
    await startKafka(broker);
    let brokerUp = true;
    const suffix = uniqueSuffix();
    const recorder = await startRecorderWithHttp(suffix, {
      KAFKA_BROKERS: '127.0.0.1:19192',
      AUDIT_LOG_FILE: join(folder, `outage-${suffix}.log`),
    });
    databases.push(recorder.database);
    const http = request(recorder.app.getHttpServer());
    const admin = bearer({ sub: '1', name: 'root', admin: true });
    try {
      // Something to query: stored through the consumer while Kafka is up.
      const own = new Kafka({ brokers: ['127.0.0.1:19192'], clientId: 'instances-int', logLevel: logLevel.NOTHING });
      const ownProducer = own.producer();
      await ownProducer.connect();
      const event = releaseCreatedEvent(1, 7, 'g/p7');
      await ownProducer.send({
        topic: `it-audit-query-${suffix}`,
        acks: -1,
        messages: [{ key: messageKeyFor(event.scope), value: JSON.stringify(event) }],
      });
      await ownProducer.disconnect();
      await waitFor('the event stored', async () => (await storedCount(recorder.app)) === 1);
      const up = await http.get('/ready').expect(200);
      expect(up.body.details.kafka).toEqual({ status: 'up', brokers: 1 });

      await stopKafka(broker);
      brokerUp = false;
      const statuses: number[] = [];
      const down = await waitFor(
        '/ready to report Kafka down',
        async () => {
          const res = await http.get('/ready');
          statuses.push(res.status);
          return res.body.details?.kafka?.status === 'down' ? res : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(new Set(statuses)).toEqual(new Set([200]));
      expect(down.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' }, kafka: { status: 'down', message: expect.any(String) } },
      });
      const listed = await http.get('/api/v4/audit_events').set('Authorization', admin).expect(200);
      expect(listed.body.map((a: { details: { correlation_id: string } }) => a.details.correlation_id)).toEqual([
        event.correlation_id,
      ]);
    } finally {
      // The consumer leaves its group on close: with the broker back, as in production after an outage.
      if (!brokerUp) await startKafka(broker);
      await recorder.app.close();
      await stopKafka(broker);
    }
  });
});
