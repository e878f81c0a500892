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
});
