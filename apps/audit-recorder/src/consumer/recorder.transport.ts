import { INestApplication } from '@nestjs/common';
import { ChunkTransports, KafkaChunkTransport } from '@audit/kafka';
import type { AuditRecorderConfig } from '../config';
import { recorderConsumers } from './recorder.consumer';

/**
 * The recorder's consumers as a Nest microservice: `app.connectMicroservice({ strategy: recorderTransport(...) })`.
 * Made by ChunkTransports, so it stops (in-flight chunk committed) in beforeApplicationShutdown.
 */
export const recorderTransport = (app: INestApplication, config: AuditRecorderConfig): KafkaChunkTransport =>
  app.get(ChunkTransports).create(recorderConsumers(config));
