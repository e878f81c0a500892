import { DynamicModule, Logger, Module } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import { createKafkaClient } from './kafka-client';
import { KAFKA_CLIENT, KAFKA_OPTIONS, KafkaOptions } from './kafka.constants';
import { KafkaAdminService } from './kafka-admin.service';
import { ChunkTransports } from './chunk-transports';

export { createKafkaClient } from './kafka-client';

/** The service-wide client, with a warning at boot for settings that weaken the connection. */
function serviceClient(options: KafkaOptions): Kafka {
  const logger = new Logger('KafkaModule');
  if (options.ssl && !options.ssl.rejectUnauthorized) {
    logger.warn(
      "KAFKA_SSL_REJECT_UNAUTHORIZED=false: the brokers' certificates are not verified. Never run like this in production.",
    );
  }
  if (options.sasl?.mechanism === 'plain' && !options.ssl) {
    logger.warn('KAFKA_SASL_MECHANISM=plain without TLS: the password crosses the network in clear text.');
  }
  return createKafkaClient(options);
}

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
        { provide: KAFKA_CLIENT, inject: [KAFKA_OPTIONS], useFactory: serviceClient },
        KafkaAdminService,
        ChunkTransports,
      ],
      exports: [KAFKA_CLIENT, KAFKA_OPTIONS, KafkaAdminService, ChunkTransports],
    };
  }
}
