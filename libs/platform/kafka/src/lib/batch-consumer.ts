import { Logger } from '@nestjs/common';
import { DomainEvent, parseDomainEvent } from '@audit/contracts';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { DeadLetter, DeadLetterPublisher } from './dead-letter';
import { createIdempotentProducer } from './producer';

/** One valid domain event of a batch, with where it came from. */
export interface ConsumedEvent {
  event: DomainEvent;
  partition: number;
  offset: string;
}

/** A message the handler could not process for a reason that retrying will not fix. */
export interface HandlerRejection {
  offset: string;
  reason: string;
  error: string;
}

/**
 * The work of a consumer. It must make its effects durable before it resolves; it may return
 * rejections (sent to the DLQ). Throwing means "transient failure": nothing is committed and the
 * same messages come again.
 */
export type BatchHandler = (events: ConsumedEvent[]) => Promise<HandlerRejection[] | void>;

export interface BatchConsumerOptions {
  groupId: string;
  topic: string;
  handler: BatchHandler;
  /** Messages handed to the handler at once; offsets are committed after each chunk. */
  chunkSize?: number;
  /**
   * Partitions whose batches are handled at the same time (default 3). Each partition's messages
   * still go to the handler one chunk at a time and in order; the handler must allow calls for
   * different partitions to overlap (each needs its own database connection: keep the pool larger).
   */
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
}

/**
 * Batch consumption on kafkajs `eachBatch`, with the guarantees the consumers need and that Nest's
 * stock Kafka server does not give (it is per-message and commits on its own schedule):
 * - a chunk's offsets are resolved and committed only after its handler resolved (work durable);
 * - unparseable, unknown-typed and schema-invalid messages go to `<topic>.dlq` with a reason,
 *   before their offsets are committed, so every message is either processed or dead-lettered;
 * - heartbeats between chunks keep a long batch from costing the group its membership;
 * - partitions are consumed concurrently, each in order, each committing its own offsets;
 * - stop() lets the in-flight chunks finish and commit before the consumer leaves the group.
 */
export class BatchConsumer {
  private readonly logger: Logger;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly deadLetters: DeadLetterPublisher;
  private readonly chunkSize: number;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.logger = new Logger(`BatchConsumer:${options.groupId}`);
    this.chunkSize = options.chunkSize ?? 500;
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
    });
    this.producer = createIdempotentProducer(kafka);
    this.deadLetters = new DeadLetterPublisher(this.producer, options.groupId);
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // While one partition's chunk waits on the database, another's is parsed and mapped.
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.logger.log(`consuming ${this.options.topic}`);
  }

  /** Finishes the in-flight chunk, commits it, leaves the group, closes connections. */
  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.producer.disconnect();
    this.logger.log('stopped');
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    for (let start = 0; start < batch.messages.length; start += this.chunkSize) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + this.chunkSize);
      await this.processChunk(batch.topic, batch.partition, chunk);
      const last = chunk[chunk.length - 1].offset;
      resolveOffset(last);
      // The batch payload's commit, not consumer.commitOffsets(): the latter silently does nothing
      // once stop() has begun, which would drop the commit of the chunk a shutdown waits for.
      await commitOffsetsIfNecessary({
        topics: [
          { topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] },
        ],
      });
      await heartbeat();
    }
  }

  private async processChunk(topic: string, partition: number, messages: KafkaMessage[]): Promise<void> {
    const valid: ConsumedEvent[] = [];
    const letters: DeadLetter[] = [];
    for (const message of messages) {
      const parsed = parseDomainEvent(message.value);
      if (parsed.ok) valid.push({ event: parsed.event, partition, offset: message.offset });
      else letters.push({ partition, message, reason: parsed.reason, error: parsed.error });
    }
    const rejections = valid.length > 0 ? ((await this.options.handler(valid)) ?? []) : [];
    for (const rejection of rejections) {
      const message = messages.find((m) => m.offset === rejection.offset);
      if (message) letters.push({ partition, message, reason: rejection.reason, error: rejection.error });
    }
    if (letters.length > 0) {
      await this.deadLetters.publish(topic, letters);
      this.logger.warn(
        { count: letters.length, reasons: [...new Set(letters.map((l) => l.reason))], partition },
        'messages sent to the dead-letter topic',
      );
    }
  }
}
