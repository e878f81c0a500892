import { Kafka, KafkaMessage, logLevel } from 'kafkajs';
import { TEST_KAFKA_BROKERS } from './unique';

export const testKafka = (clientId = 'test'): Kafka =>
  new Kafka({ brokers: TEST_KAFKA_BROKERS, clientId, logLevel: logLevel.NOTHING });

/** Reads a topic from the beginning into memory, so tests can wait on what arrived. */
export async function collectTopic(
  kafka: Kafka,
  topic: string,
  groupId: string,
): Promise<{ messages: KafkaMessage[]; stop: () => Promise<void> }> {
  const messages: KafkaMessage[] = [];
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  return { messages, stop: () => consumer.disconnect() };
}
