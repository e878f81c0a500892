import { INestApplication } from '@nestjs/common';
import { DLQ_HEADERS, dlqTopicFor, DomainEvent, messageKeyFor } from '@audit/contracts';
import {
  collectTopic,
  dropDatabase,
  releaseCreatedEvent,
  serviceDatabase,
  TEST_JWT_SECRET,
  testKafka,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { EntityManager } from '@mikro-orm/postgresql';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Producer } from 'kafkajs';
import { startRecorder } from '../../test/recorder.int-support';

/*
 * The recorder against the real Kafka broker and the real PostgreSQL: each test has its own
 * topic, consumer group and database.
 */
jest.setTimeout(120_000);

const kafka = testKafka('recorder-int');
let producer: Producer;
const databases: string[] = [];

beforeAll(async () => {
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});
afterAll(async () => {
  await producer.disconnect();
  await Promise.all(databases.map(dropDatabase));
});

async function environment(suffix: string) {
  databases.push(`it_recorder_${suffix}`);
  return {
    ...(await serviceDatabase('audit_recorder', `it_recorder_${suffix}`)),
    KAFKA_TOPIC: `it-recorder-${suffix}`,
    KAFKA_GROUP_ID: `audit-recorder-${suffix}`,
    AUDIT_LOG_FILE: join(tmpdir(), `audit-${suffix}`, 'audit_json.log'),
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent' as const,
    CONSUMER_CHUNK_SIZE: '5',
  };
}

const send = (topic: string, events: DomainEvent[]) =>
  producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e) })),
  });

/** The test's events: not the checkpoints the recorder signs and records itself (one at each graceful stop). */
const storedIds = async (app: INestApplication): Promise<string[]> => {
  const rows = await app
    .get(EntityManager)
    .fork()
    .execute<Array<{ id: string }>>("select id from audit_events where event_type <> 'audit_log_checkpoint_created'");
  return rows.map((r) => r.id);
};

describe('audit-recorder consumer (real Kafka and PostgreSQL)', () => {
  it('stopped mid-stream and started again, stores every event exactly once and commits every offset', async () => {
    const env = await environment(uniqueSuffix());
    let app = await startRecorder(env);
    const events = Array.from({ length: 60 }, (_, i) => releaseCreatedEvent(i + 1));
    await send(env.KAFKA_TOPIC, events.slice(0, 30));
    await waitFor('the first events to be stored', async () => (await storedIds(app)).length > 0);
    await app.close(); // graceful: the in-flight chunk finishes and commits
    await send(env.KAFKA_TOPIC, events.slice(30));
    app = await startRecorder(env);
    try {
      const ids = await waitFor('all 60 audit events', async () => {
        const stored = await storedIds(app);
        return stored.length >= 60 ? stored : undefined;
      });
      expect(ids).toHaveLength(60);
      expect(new Set(ids).size).toBe(60);
      const lines = readFileSync(env.AUDIT_LOG_FILE, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: string; event_type: string })
        .filter((l) => l.event_type !== 'audit_log_checkpoint_created');
      expect(lines).toHaveLength(60);
      expect(new Set(lines.map((l) => l.id)).size).toBe(60);
      expect(lines.every((l) => l.event_type === 'release_created')).toBe(true);
      const admin = kafka.admin();
      await admin.connect();
      const committed = await waitFor('offsets committed up to the end of the topic', async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: env.KAFKA_GROUP_ID, topics: [env.KAFKA_TOPIC] });
        const ends = await admin.fetchTopicOffsets(env.KAFKA_TOPIC);
        const sum = (xs: Array<{ offset: string }>) => xs.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
        return sum(offsets.partitions) === sum(ends) ? sum(offsets.partitions) : undefined;
      });
      await admin.disconnect();
      // The 60 events, and the checkpoint the first recorder signed as it stopped (published through the
      // recorder's own outbox to the same topic, and recorded like any other event).
      const [checkpoints] = await app
        .get(EntityManager)
        .fork()
        .execute<Array<{ n: string }>>(
          "select count(*) as n from audit_events where event_type = 'audit_log_checkpoint_created'",
        );
      expect(committed).toBe(60 + Number(checkpoints.n));
      expect(Number(checkpoints.n)).toBeGreaterThanOrEqual(1);
    } finally {
      await app.close();
    }
  });

  it('sends malformed messages to the dead-letter topic with a reason, and goes on', async () => {
    const env = await environment(uniqueSuffix());
    const app = await startRecorder(env);
    const dlq = await collectTopic(kafka, dlqTopicFor(env.KAFKA_TOPIC), `dlq-reader-${uniqueSuffix()}`);
    try {
      const good = releaseCreatedEvent(1);
      const invalid = { ...releaseCreatedEvent(2), occurred_at: 'not a date' };
      await producer.send({
        topic: env.KAFKA_TOPIC,
        acks: -1,
        messages: [
          { key: 'Project:29', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
          {
            key: 'Project:29',
            value: JSON.stringify({ ...good, id: releaseCreatedEvent(3).id, type: 'ReleaseExploded' }),
          },
          { key: 'Project:29', value: JSON.stringify(invalid) },
          { key: 'Project:29', value: JSON.stringify(good) },
        ],
      });
      await waitFor('the valid event to be stored', async () => (await storedIds(app)).length === 1);
      await waitFor('three dead letters', () => dlq.messages.length >= 3);
      const reasons = dlq.messages.map((m) => m.headers?.[DLQ_HEADERS.reason]?.toString());
      expect(reasons).toEqual(['unparseable', 'unknown_type', 'schema_invalid']);
      expect(dlq.messages[0].value).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
      expect(dlq.messages.every((m) => m.headers?.[DLQ_HEADERS.consumer]?.toString() === env.KAFKA_GROUP_ID)).toBe(
        true,
      );
      expect(dlq.messages[2].headers?.[DLQ_HEADERS.error]?.toString()).toMatch(/occurred_at/);
      expect(dlq.messages.map((m) => m.headers?.[DLQ_HEADERS.sourceOffset]?.toString())).toEqual(['0', '1', '2']);
    } finally {
      await dlq.stop();
      await app.close();
    }
  });
});
