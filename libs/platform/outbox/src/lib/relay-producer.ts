import { Logger } from '@nestjs/common';
import { createIdempotentProducer, createKafkaClient, KafkaConnection } from '@audit/kafka';
import { LogEntry, Producer } from 'kafkajs';
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

/**
 * The relay's Kafka producer: idempotent, acks from all in-sync replicas, one request in flight.
 * Reusing one producer instance across retries matters: a batch resent after a lost ack carries
 * the same sequence numbers, so the broker drops the copy instead of appending it twice.
 */
export class RelayProducer {
  private readonly producer: Producer;

  constructor(connection: KafkaConnection) {
    const kafka = createKafkaClient(connection, { retry: RELAY_RETRY, logCreator: debugLogs });
    this.producer = createIdempotentProducer(kafka);
  }

  /** Resolves once every message is acknowledged; a key's messages keep their order (one request in flight). */
  async send(messages: OutboxMessage[]): Promise<void> {
    await this.producer.connect(); // a no-op while connected; reconnects after an outage
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: groupByTopic(messages).map(([topic, list]) => ({
        topic,
        messages: list.map((m) => ({ key: m.key, value: m.value })),
      })),
    });
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
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
