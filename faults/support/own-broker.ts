import { startKafka, stopKafka } from '@audit/testing';
import { join } from 'node:path';

/**
 * A Kafka broker of the suite's own, for the scenario that stops the broker: the shared one on
 * 9092 serves other test runs on this machine, which an outage must not disturb. Same scripts,
 * other ports and data folder (FAULTS_KAFKA_PORT, default 19092; controller on the next port).
 */
const ROOT = join(__dirname, '..', '..');
const PORT = Number(process.env['FAULTS_KAFKA_PORT'] ?? 19092);

export const OWN_BROKER_ENV = {
  KAFKA_PORT: String(PORT),
  KAFKA_CONTROLLER_PORT: String(PORT + 1),
  KAFKA_DATA_DIR: join(ROOT, 'tmp', 'faults-kafka', 'data'),
  KAFKA_LOG_DIR: join(ROOT, 'tmp', 'faults-kafka', 'logs'),
  KAFKA_HEAP: '384m',
};

export const OWN_BROKERS = [`127.0.0.1:${PORT}`];

export const startOwnBroker = (): Promise<void> => startKafka(OWN_BROKER_ENV);
export const stopOwnBroker = (): Promise<void> => stopKafka(OWN_BROKER_ENV);
