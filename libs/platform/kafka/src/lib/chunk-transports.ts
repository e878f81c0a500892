import { BeforeApplicationShutdown, Inject, Injectable, Optional } from '@nestjs/common';
import { Kafka } from 'kafkajs';
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
  ) {}

  /**
   * A transport for `app.connectMicroservice({ strategy })`, consuming per `consumers` (pattern → options), every
   * consumer with the service's group membership timing (KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS).
   */
  create(consumers: Readonly<Record<string, ChunkConsumerOptions>>): KafkaChunkTransport {
    const timing = this.options?.consumerTiming;
    const transport = new KafkaChunkTransport(
      this.kafka,
      consumers,
      timing ? { sessionTimeout: timing.sessionTimeoutMs, heartbeatInterval: timing.heartbeatIntervalMs } : {},
    );
    this.transports.push(transport);
    return transport;
  }

  /** In-flight chunks finish and commit; Nest's own close of the microservices later finds them stopped. */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.transports.map((transport) => transport.close()));
  }
}
