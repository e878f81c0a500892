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
  /**
   * How long a consumer that stops heartbeating (a killed process) keeps its partitions before the group
   * hands them to the others (default 10 s; the broker accepts 6 s to 30 min). kafkajs 2 has no static
   * membership: a restarted consumer joins as a new member either way.
   */
  sessionTimeout?: number;
  /** Heartbeat interval (default 1 s), less than a third of the session timeout. */
  heartbeatInterval?: number;
}

const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
/**
 * kafkajs's default, explicit because it is also how long one chunk may keep its partitions while its handler
 * runs (see keepingMembership): the role of the Java client's max.poll.interval.ms, which is its rebalance
 * timeout too.
 */
const REBALANCE_TIMEOUT_MS = 60_000;

/**
 * Batch consumption on kafkajs `eachBatch`, with the guarantees the consumers need and that Nest's
 * stock Kafka server does not give (it is per-message and commits on its own schedule):
 * - a chunk's offsets are resolved and committed only after its handler resolved (work durable);
 * - unparseable, unknown-typed and schema-invalid messages go to `<topic>.dlq` with a reason,
 *   before their offsets are committed, so every message is either processed or dead-lettered;
 * - heartbeats between chunks, and on a timer while a chunk's handler runs (up to the rebalance timeout),
 *   keep a long batch or a slow chunk from costing the group its membership;
 * - partitions are consumed concurrently, each in order, each committing its own offsets;
 * - stop() lets the in-flight chunks finish and commit before the consumer leaves the group.
 */
export class BatchConsumer {
  private readonly logger: Logger;
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly deadLetters: DeadLetterPublisher;
  private readonly chunkSize: number;
  private readonly heartbeatInterval: number;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.logger = new Logger(`BatchConsumer:${options.groupId}`);
    this.chunkSize = options.chunkSize ?? 500;
    this.heartbeatInterval = options.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT_MS,
      rebalanceTimeout: REBALANCE_TIMEOUT_MS,
      heartbeatInterval: this.heartbeatInterval,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 },
    });
    this.producer = createIdempotentProducer(kafka);
    this.deadLetters = new DeadLetterPublisher(this.producer, options.groupId);
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.subscribe();
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // While one partition's chunk waits on the database, another's is parsed and mapped.
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.logger.log(`consuming ${this.options.topic}`);
  }

  /**
   * On a cluster, a topic created a moment ago (by this service or another one booting beside it) may still be
   * unknown to the broker kafkajs asks, and kafkajs's subscribe gives up at the first "unknown topic": ask again
   * for a while rather than fail the service's start.
   */
  private async subscribe(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: this.options.fromBeginning ?? true });
        return;
      } catch (err) {
        if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION' || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
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
      await this.keepingMembership(heartbeat, () => this.processChunk(batch.topic, batch.partition, chunk));
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

  /**
   * kafkajs heartbeats only when its loop asks (after a batch, or through `heartbeat()` between our chunks), so
   * with a short session a chunk slower than the session timeout (a slow database) would cost the consumer its
   * membership, and the chunk would be handled again by whoever gets the partition. While the handler runs, a
   * timer heartbeats as the Java client's background thread does; for at most the rebalance timeout, so a
   * handler that hangs still loses its partitions. A failed heartbeat (a rebalance) is left to the loop's own
   * heartbeat after the chunk, which rejoins.
   */
  private async keepingMembership(heartbeat: () => Promise<void>, work: () => Promise<void>): Promise<void> {
    const until = Date.now() + REBALANCE_TIMEOUT_MS;
    const timer = setInterval(() => {
      if (Date.now() > until) clearInterval(timer);
      else heartbeat().catch(() => undefined);
    }, this.heartbeatInterval);
    try {
      await work();
    } finally {
      clearInterval(timer);
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
