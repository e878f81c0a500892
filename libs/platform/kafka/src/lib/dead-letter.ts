import { DLQ_HEADERS, dlqTopicFor } from '@audit/contracts';
import { IHeaders, KafkaMessage, Producer } from 'kafkajs';

export interface DeadLetter {
  partition: number;
  message: KafkaMessage;
  reason: string;
  error: string;
}

/** Sends messages a consumer cannot process to `<topic>.dlq`: original bytes and headers plus why. */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly consumerName: string,
  ) {}

  async publish(sourceTopic: string, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.producer.send({
      topic: dlqTopicFor(sourceTopic),
      acks: -1,
      messages: letters.map(({ partition, message, reason, error }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...(message.headers as IHeaders | undefined),
          [DLQ_HEADERS.consumer]: this.consumerName,
          [DLQ_HEADERS.reason]: reason,
          [DLQ_HEADERS.error]: error.slice(0, 2000),
          [DLQ_HEADERS.sourceTopic]: sourceTopic,
          [DLQ_HEADERS.sourcePartition]: String(partition),
          [DLQ_HEADERS.sourceOffset]: message.offset,
          [DLQ_HEADERS.failedAt]: new Date().toISOString(),
        },
      })),
    });
  }
}
