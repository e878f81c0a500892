import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { dlqTopicFor } from '@audit/contracts';
import { Admin, Kafka } from 'kafkajs';
import { KAFKA_CLIENT, KAFKA_OPTIONS, KafkaOptions } from './kafka.constants';

/**
 * Creates the service's topics at boot (the broker does not auto-create them) and answers the
 * readiness probe. One admin connection for the life of the process.
 */
@Injectable()
export class KafkaAdminService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KafkaAdminService.name);
  private readonly admin: Admin;

  constructor(
    @Inject(KAFKA_CLIENT) kafka: Kafka,
    @Inject(KAFKA_OPTIONS) private readonly options: KafkaOptions,
  ) {
    this.admin = kafka.admin();
  }

  async onModuleInit(): Promise<void> {
    await this.admin.connect();
    await ensureTopics(this.admin, this.options.topic, this.options.partitions);
    this.logger.log(`topics ready: ${this.options.topic}, ${dlqTopicFor(this.options.topic)}`);
  }

  /** Throws unless the cluster answers within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<{ brokers: number }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Kafka did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const cluster = await Promise.race([this.admin.describeCluster(), timeout]);
      return { brokers: cluster.brokers.length };
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin.disconnect();
  }
}

/** Idempotent: creating a topic that exists is not an error, so concurrent services may race. */
export async function ensureTopics(admin: Admin, topic: string, partitions: number): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = [
    { topic, numPartitions: partitions, replicationFactor: -1 },
    { topic: dlqTopicFor(topic), numPartitions: 1, replicationFactor: -1 },
  ].filter((t) => !existing.has(t.topic));
  if (missing.length > 0) await admin.createTopics({ waitForLeaders: true, topics: missing });
}
