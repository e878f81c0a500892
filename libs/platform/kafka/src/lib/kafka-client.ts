import { Logger } from '@nestjs/common';
import { Kafka, KafkaConfig, logLevel, LogEntry } from 'kafkajs';
import { KafkaConnection } from './kafka.constants';

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
