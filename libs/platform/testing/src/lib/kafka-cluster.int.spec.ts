import { createIdempotentProducer, createKafkaClient, ensureTopics } from '@audit/kafka';
import { Admin, Kafka, logLevel } from 'kafkajs';
import { join } from 'node:path';
import { killKafkaNode, repositoryRoot, startKafka, startKafkaNode, stopKafka } from './broker';
import { releaseCreatedEvent } from './fixtures';
import { uniqueSuffix } from './unique';
import { waitFor } from './wait-for';

/*
 * The three-node cluster of deploy/kafka-local (KAFKA_NODES=3), started on ports of its own
 * (KAFKA_CLUSTER_TEST_PORT, default 29092: brokers 29092, 29094, 29096, controllers one above each) with its own
 * data folder under tmp/, never the shared broker on 9092: it is replicated, survives the loss of a broker, and
 * takes a killed broker back. The cluster is stopped at the end.
 */
jest.setTimeout(180_000);

const PORT = Number(process.env['KAFKA_CLUSTER_TEST_PORT'] ?? 29092);
const PORTS = [PORT, PORT + 2, PORT + 4];
const CLUSTER = {
  KAFKA_NODES: '3',
  KAFKA_PORT: String(PORT),
  KAFKA_DATA_DIR: join(repositoryRoot(), 'tmp', 'kafka-cluster-test', 'data'),
  KAFKA_LOG_DIR: join(repositoryRoot(), 'tmp', 'kafka-cluster-test', 'logs'),
};
const BROKERS = PORTS.map((p) => `127.0.0.1:${p}`);
const kafka = new Kafka({ brokers: BROKERS, clientId: 'kafka-cluster-int', logLevel: logLevel.NOTHING });

/** Replicas and in-sync replicas of each partition of `topic`. */
async function replication(admin: Admin, topic: string): Promise<Array<{ replicas: number; isr: number }>> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0].partitions.map((p) => ({ replicas: p.replicas.length, isr: p.isr.length }));
}

/** The same, of a topic created a moment ago: the broker asked may learn of it a little after the controller. */
const replicationOfNew = (admin: Admin, topic: string) =>
  waitFor(`${topic} known to the broker asked`, () => replication(admin, topic).catch(() => undefined));

describe('Kafka cluster (KAFKA_NODES=3)', () => {
  let admin: Admin;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const started = Date.now();
    await startKafka(CLUSTER);
    timings['cluster start (s)'] = (Date.now() - started) / 1000;
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    const stopping = Date.now();
    await stopKafka(CLUSTER);
    timings['cluster stop (s)'] = (Date.now() - stopping) / 1000;
    process.stdout.write(`kafka-cluster.int.spec timings: ${JSON.stringify(timings)}\n`);
  });

  it('has three brokers, and replicates every topic three times', async () => {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.map((b) => b.port).sort()).toEqual(PORTS);

    // The broker's default (replicationFactor -1), as a topic created by another tool gets it.
    const plain = `it-cluster-plain-${uniqueSuffix()}`;
    await admin.createTopics({
      waitForLeaders: false,
      topics: [{ topic: plain, numPartitions: 3, replicationFactor: -1 }],
    });
    expect(await replicationOfNew(admin, plain)).toEqual(Array(3).fill({ replicas: 3, isr: 3 }));

    // The services' own topics and their dead-letter topic.
    const topic = `it-cluster-${uniqueSuffix()}`;
    await ensureTopics(admin, topic, 12);
    expect(await replicationOfNew(admin, topic)).toEqual(Array(12).fill({ replicas: 3, isr: 3 }));
    expect(await replicationOfNew(admin, `${topic}.dlq`)).toEqual([{ replicas: 3, isr: 3 }]);
    await admin.deleteTopics({ topics: [plain, topic, `${topic}.dlq`] });
  });

  it('acknowledges acks=-1 writes with a broker killed, and takes the broker back', async () => {
    const topic = `it-cluster-kill-${uniqueSuffix()}`;
    await ensureTopics(admin, topic, 3);
    await replicationOfNew(admin, topic);
    // The services' own client (its retries) and producer (idempotent, acks=-1), without its logs.
    const silent = createKafkaClient(
      { brokers: BROKERS, clientId: 'kafka-cluster-int' },
      { logCreator: () => () => undefined },
    );
    const producer = createIdempotentProducer(silent);
    await producer.connect();
    const send = (n: number) =>
      producer.send({
        topic,
        acks: -1,
        messages: [{ key: `Project:${n}`, value: JSON.stringify(releaseCreatedEvent(n)) }],
      });
    try {
      await send(1);
      // The leader of partition 0 is the broker to lose: its writes must move to another.
      const leader = await waitFor('the leader of partition 0', async () => {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return topics[0].partitions.find((p) => p.partitionId === 0)?.leader;
      });
      const victim = PORT + 2 * (leader - 1);

      const killed = Date.now();
      await killKafkaNode(victim, CLUSTER);
      const messages = Array.from({ length: 30 }, (_, i) => ({
        key: `Project:${i}`,
        partition: i % 3,
        value: JSON.stringify(releaseCreatedEvent(i + 2)),
      }));
      await producer.send({ topic, acks: -1, messages });
      timings['acks=-1 send with a broker killed (s)'] = (Date.now() - killed) / 1000;
      const afterKill = await replication(admin, topic);
      expect(afterKill.every((p) => p.replicas === 3 && p.isr === 2)).toBe(true); // min.insync.replicas 2 holds

      const restarting = Date.now();
      await startKafkaNode(victim, CLUSTER);
      timings['killed node restarted (s)'] = (Date.now() - restarting) / 1000;
      await waitFor('the restarted broker back in every partition’s in-sync replicas', async () =>
        (await replication(admin, topic)).every((p) => p.isr === 3),
      );
      expect((await admin.describeCluster()).brokers).toHaveLength(3);
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(31); // none lost, none twice
      await send(99);
    } finally {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic, `${topic}.dlq`] }).catch(() => undefined);
    }
  });
});
