export const KAFKA_CLIENT = Symbol('KAFKA_CLIENT');
export const KAFKA_OPTIONS = Symbol('KAFKA_OPTIONS');

export interface KafkaOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  partitions: number;
}
