import { DynamicModule, Logger, Module } from '@nestjs/common';
import { Kafka, logLevel, LogEntry } from 'kafkajs';
import { KAFKA_CLIENT, KAFKA_OPTIONS, KafkaOptions } from './kafka.constants';
import { KafkaAdminService } from './kafka-admin.service';
import { ChunkTransports } from './chunk-transports';

/** Routes kafkajs's own logs through Nest's logger (and so through pino) instead of stdout. */
const logCreator = () => {
  const logger = new Logger('kafkajs');
  return ({ level, log }: LogEntry) => {
    const { message, ...extra } = log;
    if (level === logLevel.ERROR) logger.error({ ...extra }, message);
    else if (level === logLevel.WARN) logger.warn({ ...extra }, message);
    else logger.debug?.({ ...extra }, message);
  };
};

export const createKafkaClient = (options: Pick<KafkaOptions, 'brokers' | 'clientId'>): Kafka =>
  new Kafka({
    brokers: options.brokers,
    clientId: options.clientId,
    logLevel: logLevel.WARN,
    logCreator,
    retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
  });

@Module({})
export class KafkaModule {
  static forRootAsync(options: {
    inject: Array<string | symbol>;
    useFactory: (...args: never[]) => KafkaOptions;
  }): DynamicModule {
    return {
      module: KafkaModule,
      global: true,
      providers: [
        { provide: KAFKA_OPTIONS, inject: options.inject, useFactory: options.useFactory },
        { provide: KAFKA_CLIENT, inject: [KAFKA_OPTIONS], useFactory: createKafkaClient },
        KafkaAdminService,
        ChunkTransports,
      ],
      exports: [KAFKA_CLIENT, KAFKA_OPTIONS, KafkaAdminService, ChunkTransports],
    };
  }
}
