/**
 * The bench topic and the reader that turns its records into commit→Kafka latencies.
 * The topic uses message.timestamp.type=LogAppendTime, so a record's timestamp is the moment the
 * broker appended it, not the producer's clock: no consumer lag enters the figure, and the
 * consumer can be started after the load, without competing with it for the two cores.
 */
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { waitForLeaders } from '../../libs/platform/kafka/src/lib/kafka-admin.service';

export const benchKafka = (brokers: string[]): Kafka =>
  new Kafka({ brokers, clientId: 'release-service-bench', logLevel: logLevel.NOTHING });

export async function createLogAppendTimeTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      // Waited for below: kafkajs's wait gives up when it asks a broker of a cluster that has not heard of the topic yet.
      waitForLeaders: false,
      topics: [
        {
          topic,
          numPartitions: partitions,
          replicationFactor: -1,
          configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
        },
      ],
    });
    await waitForLeaders(admin, [topic]);
    // Without this config every latency below would silently be measured against the producer's clock.
    const describe = () =>
      admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['message.timestamp.type'] }],
      });
    // On a cluster the broker asked may learn of the new topic a moment after its leaders exist.
    const deadline = Date.now() + 30_000;
    let described = await describe().catch((err: Error) => err);
    while (described instanceof Error && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      described = await describe().catch((err: Error) => err);
    }
    if (described instanceof Error) throw described;
    const value = described.resources[0]?.configEntries.find(
      (e) => e.configName === 'message.timestamp.type',
    )?.configValue;
    if (value !== 'LogAppendTime')
      throw new Error(`topic ${topic} has message.timestamp.type=${value}, expected LogAppendTime`);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the topics that exist among `topics` (the service adds `<topic>.dlq` on its own). */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const doomed = topics.filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

export interface Collected {
  /** release id → broker append time (ms since epoch) of its ReleaseCreated record. */
  appendedAt: Map<number, number>;
  missing: number;
}

/**
 * Reads the topic from the beginning until every release id in `wanted` has its ReleaseCreated
 * record, or the deadline passes (then `missing` says how many never arrived).
 */
export async function collectReleaseCreated(
  kafka: Kafka,
  topic: string,
  groupId: string,
  wanted: ReadonlySet<number>,
  timeoutMs: number,
): Promise<Collected> {
  const appendedAt = new Map<number, number>();
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  let done: () => void = () => undefined;
  const allSeen = new Promise<void>((resolve) => (done = resolve));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const event = JSON.parse(message.value?.toString() ?? 'null') as {
          type?: string;
          data?: { release_id?: number };
        } | null;
        const id = event?.data?.release_id;
        if (event?.type !== 'ReleaseCreated' || id === undefined || !wanted.has(id)) return;
        appendedAt.set(id, Number(message.timestamp));
        if (appendedAt.size === wanted.size) done();
      },
    });
    if (wanted.size === 0) done();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allSeen, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
  }
  return { appendedAt, missing: wanted.size - appendedAt.size };
}
