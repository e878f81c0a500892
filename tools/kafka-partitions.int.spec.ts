import { ensureTopics } from '@audit/kafka';
import { Admin, Kafka, logLevel } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { groupLag, growPartitions, partitionCount } from './kafka-partitions';

/** `npm run kafka:partitions` against the real broker, on a topic of its own. (A tool may not use @audit/testing.) */
jest.setTimeout(60_000);

const uniqueSuffix = (): string => `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const testKafka = (clientId: string): Kafka =>
  new Kafka({
    brokers: (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(','),
    clientId,
    logLevel: logLevel.NOTHING,
  });

describe('kafka:partitions (growPartitions)', () => {
  const kafka = testKafka('kafka-partitions-int');
  let admin: Admin;
  const topic = `it-partitions-${uniqueSuffix()}`;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topic, 3);
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('only reports with a dry run, then grows the topic, each new partition with a leader', async () => {
    expect(await growPartitions(admin, topic, 6, { dryRun: true })).toEqual({
      topic,
      before: 3,
      after: 3,
      changed: false,
    });
    expect(await partitionCount(admin, topic)).toBe(3);

    expect(await growPartitions(admin, topic, 6)).toEqual({ topic, before: 3, after: 6, changed: true });
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0].partitions.map((p) => p.partitionId).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(topics[0].partitions.every((p) => p.leader >= 0)).toBe(true);
  });

  it("reports a group's lag: all of the topic before it commits, what it has not committed after", async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [0, 1, 2, 3, 4].map((i) => ({ value: `m${i}`, partition: i % 2 })),
    });
    await producer.disconnect();
    const groupId = `it-partitions-${uniqueSuffix()}`;
    expect(await groupLag(admin, groupId, topic)).toBe(5);
    // Partition 0 holds m0, m2, m4: commit past the first two of them.
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] });
    expect(await groupLag(admin, groupId, topic)).toBe(3);
    await admin.deleteGroups([groupId]);
  });

  it('leaves a topic that already has the count alone, and refuses to shrink one', async () => {
    expect(await growPartitions(admin, topic, 6)).toEqual({ topic, before: 6, after: 6, changed: false });
    await expect(growPartitions(admin, topic, 4)).rejects.toThrow(/has 6 partitions; Kafka cannot remove partitions/);
    await expect(growPartitions(admin, `${topic}-missing`, 4)).rejects.toThrow(/does not exist/);
  });
});
