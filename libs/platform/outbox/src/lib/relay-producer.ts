import { Logger } from '@nestjs/common';
import { createIdempotentProducer, createKafkaClient, KafkaConnection } from '@audit/kafka';
import { Admin, LogEntry, Partitioners, PartitionMetadata, Producer, RecordMetadata } from 'kafkajs';
import type { OutboxMessage } from './outbox-batch';

/**
 * kafkajs retries inside a send, and with the service-wide client a send to a broker that is down
 * takes about a minute to fail (waits of up to 10 s between attempts). The relay wants to fail
 * fast and let its own backoff (capped at 5 s) pace the retries, so it resumes within seconds of
 * the broker coming back and a shutdown never waits on a long send; hence its own client (on the
 * service's connection: same brokers, TLS and SASL).
 */
const RELAY_RETRY = { initialRetryTime: 200, maxRetryTime: 1000, retries: 3 };

/** The relay warns once per failed attempt itself; kafkajs's per-retry lines only add noise. */
const debugLogs = () => {
  const logger = new Logger('kafkajs:outbox-relay');
  return ({ log }: LogEntry) => {
    const { message, ...extra } = log;
    logger.debug?.({ ...extra }, message);
  };
};

/** How long the relay trusts a topic's partition count before asking the cluster again. */
const PARTITIONS_TTL_MS = 30_000;
/** Rounds of resending the partitions a send left unacknowledged before the send counts as failed. */
const COVERAGE_ROUNDS = 3;

/** Messages routed to their partitions, in order: `topic` → partition → messages. */
export type Routed = Map<string, Map<number, RoutedMessage[]>>;
type RoutedMessage = { key: string; value: string; headers?: Record<string, string> };

/**
 * What of `routed` the acknowledgements `acked` do not cover (a partition missing from them or acknowledged
 * with an error). kafkajs 2.2.4 resolves a send although partitions of it were never written: when a broker
 * dies mid-send, its retry goes only to brokers that have not answered yet, so the dead broker's partitions,
 * moved meanwhile to a broker that already answered, are silently dropped (seen in the fleet fault suite:
 * 1–2 events marked published and absent from the topic). Hence the relay checks every partition itself.
 */
export function unacknowledged(routed: Routed, acked: readonly RecordMetadata[]): Routed {
  const ok = new Set(acked.filter((r) => r.errorCode === 0).map((r) => `${r.topicName}\u0000${r.partition}`));
  const left: Routed = new Map();
  for (const [topic, partitions] of routed) {
    for (const [partition, messages] of partitions) {
      if (ok.has(`${topic}\u0000${partition}`)) continue;
      if (!left.has(topic)) left.set(topic, new Map());
      left.get(topic)?.set(partition, messages);
    }
  }
  return left;
}

/**
 * The relay's Kafka producer: idempotent, acks from all in-sync replicas, one request in flight.
 * Reusing one producer instance across retries matters: a batch resent after a lost ack carries
 * the same sequence numbers, so the broker drops the copy instead of appending it twice.
 *
 * Each message is given its partition here (the Java client's murmur2 of the key, as the producer
 * would), so the relay knows which partitions a send must have written and can check the acknowledgement
 * covers each (see `unacknowledged`); the ones it does not are sent again, on the same producer.
 */
export class RelayProducer {
  private readonly logger = new Logger('OutboxRelay');
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly partitions = new Map<string, { metadata: PartitionMetadata[]; at: number }>();

  constructor(connection: KafkaConnection) {
    const kafka = createKafkaClient(connection, { retry: RELAY_RETRY, logCreator: debugLogs });
    this.producer = createIdempotentProducer(kafka);
    this.admin = kafka.admin();
  }

  /** Resolves once every message is acknowledged; a key's messages keep their order (one request in flight). */
  async send(messages: OutboxMessage[]): Promise<void> {
    await this.producer.connect(); // a no-op while connected; reconnects after an outage
    let pending = await this.route(messages);
    for (let round = 1; ; round++) {
      const acked = await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...pending].map(([topic, partitions]) => ({
          topic,
          messages: [...partitions].flatMap(([partition, list]) => list.map((m) => ({ ...m, partition }))),
        })),
      });
      pending = unacknowledged(pending, acked);
      if (pending.size === 0) return;
      const missing = [...pending].flatMap(([topic, p]) => [...p.keys()].map((n) => `${topic}[${n}]`)).join(', ');
      if (round >= COVERAGE_ROUNDS) throw new Error(`Kafka did not acknowledge partitions ${missing}`);
      this.logger.warn(`Kafka left partitions ${missing} of a send unacknowledged: sending them again`);
      this.partitions.clear(); // leaders moved: the partition count is read again too
    }
  }

  async disconnect(): Promise<void> {
    await Promise.all([this.producer.disconnect(), this.admin.disconnect()]);
  }

  private async route(messages: OutboxMessage[]): Promise<Routed> {
    const routed: Routed = new Map();
    for (const [topic, list] of groupByTopic(messages)) {
      const partitionMetadata = await this.partitionsOf(topic);
      const byPartition = new Map<number, RoutedMessage[]>();
      for (const m of list) {
        const message: RoutedMessage = { key: m.key, value: m.value };
        if (m.headers) message.headers = m.headers;
        const partition = this.partitioner({ topic, partitionMetadata, message });
        const forPartition = byPartition.get(partition) ?? [];
        forPartition.push(message);
        byPartition.set(partition, forPartition);
      }
      routed.set(topic, byPartition);
    }
    return routed;
  }

  /** The topic's partitions, cached a while: a grown topic is seen within PARTITIONS_TTL_MS. */
  private async partitionsOf(topic: string): Promise<PartitionMetadata[]> {
    const cached = this.partitions.get(topic);
    if (cached && Date.now() - cached.at < PARTITIONS_TTL_MS) return cached.metadata;
    await this.admin.connect(); // a no-op while connected
    const [described] = (await this.admin.fetchTopicMetadata({ topics: [topic] })).topics;
    if (!described || described.partitions.length === 0) throw new Error(`topic ${topic} has no partitions`);
    this.partitions.set(topic, { metadata: described.partitions, at: Date.now() });
    return described.partitions;
  }
}

function groupByTopic<T extends { topic: string }>(rows: T[]): Array<[string, T[]]> {
  const byTopic = new Map<string, T[]>();
  for (const row of rows) {
    const list = byTopic.get(row.topic) ?? [];
    list.push(row);
    byTopic.set(row.topic, list);
  }
  return [...byTopic.entries()];
}
