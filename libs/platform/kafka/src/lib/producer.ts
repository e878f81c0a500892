import { Kafka, Partitioners, Producer } from 'kafkajs';

/**
 * Idempotent producer with acks from all in-sync replicas: a retried send never duplicates or
 * reorders messages of a partition.
 */
export const createIdempotentProducer = (kafka: Kafka): Producer =>
  kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // The murmur2 partitioner of the Java client: keys land where other Kafka clients put them too.
    createPartitioner: Partitioners.DefaultPartitioner,
  });
