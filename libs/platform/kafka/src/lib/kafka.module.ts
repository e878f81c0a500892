import { DynamicModule, Logger, Module } from '@nestjs/common';
import { Kafka, KafkaConfig, logLevel, LogEntry } from 'kafkajs';
import { KAFKA_CLIENT, KAFKA_OPTIONS, KafkaConnection, KafkaOptions } from './kafka.constants';
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

/**
 * A kafkajs client on the service's connection (brokers, TLS, SASL). Every client of a service is made here,
 * so none can miss the security settings; `tuning` lets one (the outbox relay) retry and log its own way.
 * kafkajs logs a failed authentication with the broker and the broker's reason only, never the credentials.
 */
export const createKafkaClient = (
  connection: KafkaConnection,
  tuning: Pick<KafkaConfig, 'retry' | 'logCreator'> = {},
): Kafka =>
  new Kafka({
    brokers: connection.brokers,
    clientId: connection.clientId,
    ssl: connection.ssl,
    sasl: connection.sasl,
    logLevel: logLevel.WARN,
    logCreator: tuning.logCreator ?? logCreator,
    retry: tuning.retry ?? { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
  });

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
