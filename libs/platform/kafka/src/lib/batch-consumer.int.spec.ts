import { messageKeyFor } from '@audit/contracts';
import { releaseCreatedEvent, testKafka, uniqueSuffix, waitFor } from '@audit/testing';
import { BatchConsumer, ConsumedEvent } from './batch-consumer';
import { ensureTopics } from './kafka-admin.service';

jest.setTimeout(60_000);

describe('BatchConsumer (real Kafka)', () => {
  it('commits the chunk that is in flight when stop() is called, and takes no further chunk', async () => {
    const kafka = testKafka('batch-consumer-int');
    const topic = `it-batch-${uniqueSuffix()}`;
    const groupId = `g-${uniqueSuffix()}`;
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topic, 1);
    const producer = kafka.producer();
    await producer.connect();
    const events = Array.from({ length: 20 }, (_, i) => releaseCreatedEvent(i + 1));
    await producer.send({
      topic,
      acks: -1,
      messages: events.map((e) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e) })),
    });
    await producer.disconnect();

    const handled: ConsumedEvent[][] = [];
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const consumer = new BatchConsumer(kafka, {
      groupId,
      topic,
      chunkSize: 5,
      handler: async (chunk) => {
        handled.push(chunk);
        await blocked; // the first chunk is still in flight when stop() is called
      },
    });
    try {
      await consumer.start();
      await waitFor('the first chunk to be in flight', () => handled.length === 1);
      const stopping = consumer.stop();
      release();
      await stopping;

      expect(handled).toHaveLength(1);
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '5' })]);
    } finally {
      release();
      await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('keeps its partition through a chunk slower than the session timeout: every message handled once', async () => {
    const sessionTimeout = 6_000; // the broker's minimum
    const kafka = testKafka('batch-consumer-int');
    const topic = `it-batch-slow-${uniqueSuffix()}`;
    const groupId = `g-${uniqueSuffix()}`;
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, topic, 1);
    const producer = kafka.producer();
    await producer.connect();
    const events = Array.from({ length: 10 }, (_, i) => releaseCreatedEvent(i + 1));
    await producer.send({
      topic,
      acks: -1,
      messages: events.map((e) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e) })),
    });
    await producer.disconnect();

    const handled: string[] = [];
    let slowSince = 0;
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const consumer = new BatchConsumer(kafka, {
      groupId,
      topic,
      chunkSize: 5,
      sessionTimeout,
      heartbeatInterval: 1_000,
      handler: async (chunk) => {
        handled.push(...chunk.map((c) => c.offset));
        if (slowSince === 0) {
          slowSince = Date.now();
          await slow; // the first chunk's work (a slow database) outlasts the session
        }
      },
    });
    const membership: string[] = [];
    try {
      await consumer.start();
      await waitFor('the first chunk to be in flight', () => slowSince > 0);
      await waitFor(
        'the slow chunk to outlast the session timeout by two seconds',
        async () => {
          const [group] = (await admin.describeGroups([groupId])).groups;
          membership.push(`${group.state}:${group.members.length}`);
          return Date.now() - slowSince > sessionTimeout + 2_000;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      release();
      await waitFor('the group to commit every message', async () => {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return offsets.partitions[0]?.offset === '10';
      });

      // Without heartbeats during the chunk the broker drops the member after 6 s: the group goes Empty,
      // the chunk's commit is refused and its messages are handled a second time.
      expect(new Set(membership)).toEqual(new Set(['Stable:1']));
      expect(handled).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    } finally {
      release();
      await consumer.stop();
      await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
