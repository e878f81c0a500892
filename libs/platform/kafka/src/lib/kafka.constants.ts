export const KAFKA_CLIENT = Symbol('KAFKA_CLIENT');
export const KAFKA_OPTIONS = Symbol('KAFKA_OPTIONS');

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];
/** One object type per mechanism, as kafkajs's own SASL options are. */
export type KafkaSasl = {
  [M in KafkaSaslMechanism]: { mechanism: M; username: string; password: string };
}[KafkaSaslMechanism];

/** How every Kafka client of a service reaches the cluster: bootstrap brokers, and TLS and SASL for a managed one. */
export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  /** TLS to the brokers; absent: plaintext. `ca` replaces Node's public CAs when given. */
  ssl?: { ca?: string; rejectUnauthorized: boolean };
  /** SASL authentication; absent: none. */
  sasl?: KafkaSasl;
}

/** Group membership of every consumer of a service (kafkajs has no static membership). */
export interface KafkaConsumerTiming {
  /** A consumer that stops heartbeating (a killed process) keeps its partitions this long. */
  sessionTimeoutMs: number;
  /** Less than a third of the session timeout. */
  heartbeatIntervalMs: number;
}

export interface KafkaOptions extends KafkaConnection {
  topic: string;
  partitions: number;
  /** Absent: BatchConsumer's defaults (10 s, 1 s). */
  consumerTiming?: KafkaConsumerTiming;
  /**
   * `required` (default): the service does not start until the topics exist (its consumers need them).
   * `optional`: a service that only produces, through its outbox, starts without Kafka; the topics are
   * created in the background once Kafka answers.
   */
  atBoot?: 'required' | 'optional';
}
