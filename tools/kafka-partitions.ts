/**
 * Grows the partitions of the domain events topic (docs/operations.md, "Growing the topic's partitions"):
 *   npm run kafka:partitions -- --count 24 [--topic domain-events] [--group audit-recorder --group ...] [--yes]
 * Reaches Kafka as the services do (KAFKA_BROKERS and the TLS/SASL variables of docs/contracts.md); the topic
 * defaults to KAFKA_TOPIC. Prints the topic's partitions and each consumer group's lag on it (default groups
 * audit-recorder and audit-streamer: 0 means drained). Without --yes it changes nothing. Kafka cannot take
 * partitions away: a smaller count is refused, the same count is a no-op.
 */
import { createKafkaClient, kafkaSecurity } from '@audit/kafka';
import { baseConfigShape, loadConfig } from '@audit/platform';
import { Admin } from 'kafkajs';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface PartitionsChange {
  topic: string;
  before: number;
  after: number;
  changed: boolean;
}

/** The partitions of `topic`, each with a leader; throws if the topic does not exist. */
export async function partitionCount(admin: Admin, topic: string): Promise<number> {
  if (!(await admin.listTopics()).includes(topic)) throw new Error(`topic ${topic} does not exist`);
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0].partitions.length;
}

/** Messages of `topic` that `groupId` has not committed yet (all of them for a group that never committed). */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const done = new Map(committed.partitions.map((p) => [p.partition, Number(p.offset)]));
  const ends = await admin.fetchTopicOffsets(topic);
  return ends.reduce((lag, p) => {
    const at = done.get(p.partition) ?? -1;
    return lag + Number(p.high) - (at >= 0 ? at : Number(p.low));
  }, 0);
}

/**
 * Raises `topic` to `count` partitions and returns once the cluster reports them all with a leader
 * (`dryRun`: only says what would change).
 */
export async function growPartitions(
  admin: Admin,
  topic: string,
  count: number,
  { dryRun = false, timeoutMs = 30_000 }: { dryRun?: boolean; timeoutMs?: number } = {},
): Promise<PartitionsChange> {
  const before = await partitionCount(admin, topic);
  if (count < before) {
    throw new Error(`topic ${topic} has ${before} partitions; Kafka cannot remove partitions (asked for ${count})`);
  }
  if (count === before || dryRun) return { topic, before, after: before, changed: false };
  await admin.createPartitions({ topicPartitions: [{ topic, count }] });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitions = topics[0].partitions;
    if (partitions.length === count && partitions.every((p) => p.leader >= 0)) {
      return { topic, before, after: count, changed: true };
    }
    if (Date.now() > deadline)
      throw new Error(`${topic} has no leader for all ${count} partitions after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      topic: { type: 'string' },
      count: { type: 'string' },
      group: { type: 'string', multiple: true, default: ['audit-recorder', 'audit-streamer'] },
      yes: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 1000) {
    process.stderr.write('--count must be the new number of partitions, 1-1000\n');
    process.exit(2);
  }
  // The services' own schema: the same brokers, TLS and SASL, and a bad variable named as they name it.
  const config = loadConfig(z.object(baseConfigShape({ port: 3001, database: 'release_service' })));
  const topic = values.topic ?? config.KAFKA_TOPIC;
  const kafka = createKafkaClient({
    brokers: config.KAFKA_BROKERS,
    clientId: 'kafka-partitions',
    ...kafkaSecurity(config),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const group of values.group ?? []) {
      process.stdout.write(
        `consumer group ${group}: ${await groupLag(admin, group, topic)} messages not consumed yet\n`,
      );
    }
    const change = await growPartitions(admin, topic, count, { dryRun: !values.yes });
    if (change.before === count) {
      process.stdout.write(`${topic} already has ${count} partitions: nothing to do\n`);
    } else if (!change.changed) {
      process.stdout.write(
        `${topic} has ${change.before} partitions; run again with --yes to raise it to ${count}.\n` +
          'Keys then map to other partitions: the order of a key holds only among events produced after the change ' +
          '(docs/operations.md, "Growing the topic\'s partitions").\n',
      );
    } else {
      process.stdout.write(`${topic}: ${change.before} -> ${change.after} partitions, every one with a leader\n`);
    }
  } finally {
    await admin.disconnect();
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`kafka:partitions: ${err.message}\n`);
    process.exit(1);
  });
}
