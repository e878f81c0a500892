import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { Telemetry } from '@audit/telemetry';
import { Kafka } from 'kafkajs';
import { KafkaAdminService } from './kafka-admin.service';
import { KAFKA_CLIENT, KAFKA_OPTIONS, KafkaOptions } from './kafka.constants';
import { ChunkConsumerOptions, KafkaChunkTransport } from './kafka-chunk-transport';

/**
 * Creates the application's chunk transports and stops them where provider-based consumers stopped:
 * in `beforeApplicationShutdown`, after every `onModuleDestroy` (a delivery worker stops first) and
 * before the HTTP server closes and, in `onApplicationShutdown`, the database pool and the Kafka admin.
 * (Nest would otherwise close a microservice only after the HTTP server, which may hold on to slow
 * clients while the consumer keeps taking chunks.) Provided by KafkaModule.
 */
@Injectable()
export class ChunkTransports implements BeforeApplicationShutdown {
  private readonly transports: KafkaChunkTransport[] = [];

  constructor(
    @Inject(KAFKA_CLIENT) private readonly kafka: Kafka,
    // Optional: a test module that provides only the client gets BatchConsumer's defaults.
    @Optional() @Inject(KAFKA_OPTIONS) private readonly options?: KafkaOptions,
    // Optional too: without the platform's telemetry, consumers count into nothing and lag is not exposed.
    @Optional() private readonly telemetry?: Telemetry,
    @Optional() private readonly admin?: KafkaAdminService,
  ) {}

  /**
   * A transport for `app.connectMicroservice({ strategy })`, consuming per `consumers` (pattern → options), every
   * consumer with the service's group membership timing (KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS).
   */
  create(consumers: Readonly<Record<string, ChunkConsumerOptions>>): KafkaChunkTransport {
    const timing = this.options?.consumerTiming;
    const transport = new KafkaChunkTransport(this.kafka, consumers, {
      ...(timing ? { sessionTimeout: timing.sessionTimeoutMs, heartbeatInterval: timing.heartbeatIntervalMs } : {}),
      telemetry: this.telemetry,
    });
    this.transports.push(transport);
    for (const { groupId, topic } of Object.values(consumers)) this.exposeLag(groupId, topic);
    return transport;
  }

  /**
   * `kafka_consumer_lag` of a group, read from the brokers at scrape time. Every replica of the service
   * reports the whole group's lag (the same figures: take the max across instances), so the figure is
   * there whichever replica is scraped and while a rebalance has none consuming.
   */
  private exposeLag(groupId: string, topic: string): void {
    const { telemetry, admin } = this;
    if (!telemetry?.metrics.enabled || !admin) return;
    const logger = new Logger(ChunkTransports.name);
    telemetry.metrics.sampledGauge(
      {
        name: 'kafka_consumer_lag',
        help: "Messages of a partition not yet consumed by a group: the high watermark less the group's committed offset.",
        labelNames: ['group', 'topic', 'partition'],
      },
      async () =>
        (await admin.consumerLag(groupId, topic)).map(({ partition, lag }) => ({
          labels: { group: groupId, topic, partition },
          value: lag,
        })),
      (err) => logger.warn({ err: err.message, groupId }, 'could not read the consumer lag for /metrics'),
    );
  }

  /** In-flight chunks finish and commit; Nest's own close of the microservices later finds them stopped. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.transports.map((transport) => transport.close()));
  }
}
