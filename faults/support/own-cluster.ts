import { killKafkaNode, startKafka, startKafkaNode, stopKafka } from '@audit/testing';
import { join } from 'node:path';

/**
 * A three-node Kafka cluster of the suite's own, for the scenario that kills a broker: the same
 * deploy/kafka-local scripts (KAFKA_NODES=3: node <id> has its broker on PORT + 2 * (id - 1), its
 * controller one above; every topic 3 replicas, min.insync.replicas 2), on ports of its own
 * (FAULTS_KAFKA_CLUSTER_PORT, default 29192: brokers 29192, 29194, 29196) and a data folder under
 * tmp/faults-kafka-cluster/, never the shared broker on 9092 nor the 29092 cluster of the testing
 * library's own test.
 */
const ROOT = join(__dirname, '..', '..');
const PORT = Number(process.env['FAULTS_KAFKA_CLUSTER_PORT'] ?? 29192);
const NODES = 3;

export const OWN_CLUSTER_ENV = {
  KAFKA_NODES: String(NODES),
  KAFKA_PORT: String(PORT),
  KAFKA_DATA_DIR: join(ROOT, 'tmp', 'faults-kafka-cluster', 'data'),
  KAFKA_LOG_DIR: join(ROOT, 'tmp', 'faults-kafka-cluster', 'logs'),
};

/** The broker port of node `id` (the node id is the broker id Kafka's metadata names as a leader). */
export const brokerPortOf = (id: number): number => PORT + 2 * (id - 1);

export const OWN_CLUSTER_BROKERS = Array.from({ length: NODES }, (_, i) => `127.0.0.1:${brokerPortOf(i + 1)}`);

export const startOwnCluster = (): Promise<void> => startKafka(OWN_CLUSTER_ENV);
export const stopOwnCluster = (): Promise<void> => stopKafka(OWN_CLUSTER_ENV);
/** SIGKILL of one node (no controlled shutdown); resolves once its process is gone. */
export const killClusterNode = (id: number): Promise<number> => killKafkaNode(brokerPortOf(id), OWN_CLUSTER_ENV);
/** The node again, on its data; resolves once it serves requests. */
export const startClusterNode = (id: number): Promise<void> => startKafkaNode(brokerPortOf(id), OWN_CLUSTER_ENV);
