import { INestApplication } from '@nestjs/common';
import { ChunkTransports, KafkaChunkTransport } from '@audit/kafka';
import type { AuditStreamerConfig } from '../config';
import { streamerConsumers } from './streaming-consumer';

/**
 * The streamer's consumer as a Nest microservice: `app.connectMicroservice({ strategy: streamerTransport(...) })`.
 * Made by ChunkTransports, so it stops (in-flight chunk committed) in beforeApplicationShutdown, after
 * the delivery worker stopped in onModuleDestroy.
 */
export const streamerTransport = (app: INestApplication, config: AuditStreamerConfig): KafkaChunkTransport =>
  app.get(ChunkTransports).create(streamerConsumers(config));
