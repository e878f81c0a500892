import { Logger } from '@nestjs/common';
import { DomainEvent, parseDomainEvent } from '@audit/contracts';
import { isSampled, secondsSince, Span, SpanKind, SpanStatusCode, Telemetry } from '@audit/telemetry';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Counter, Histogram } from 'prom-client';
import { DeadLetter, DeadLetterPublisher } from './dead-letter';
import { createIdempotentProducer } from './producer';

/** One valid domain event of a batch, with where it came from. */
export interface ConsumedEvent {
  event: DomainEvent;
  partition: number;
  offset: string;
  /**
   * With tracing on, the W3C trace context of this chunk's span in the message's trace (the trace the
   * message's `traceparent` header carried): work done later for this event (a delivery) continues it.
   */
  traceparent?: string;
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
  /** Where the consumer's figures and spans go (default: nowhere). */
  telemetry?: Telemetry;
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
  private readonly telemetry: Telemetry;
  private readonly messagesCounted: { processed: Counter.Internal; deadLettered: Counter.Internal };
  private readonly chunkDuration: Histogram.Internal<string>;

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
    this.telemetry = options.telemetry ?? Telemetry.disabled();
    const { metrics } = this.telemetry;
    const messages = metrics.counter({
      name: 'audit_consumer_messages_total',
      help: 'Messages a consumer group finished with: processed (durable, offset committed after) or dead_lettered (sent to <topic>.dlq with a reason).',
      labelNames: ['consumer', 'outcome'],
    });
    // Bound children: the label lookup once, not per chunk.
    this.messagesCounted = {
      processed: messages.labels({ consumer: options.groupId, outcome: 'processed' }),
      deadLettered: messages.labels({ consumer: options.groupId, outcome: 'dead_lettered' }),
    };
    // Both series from the start, at 0: an alert on `increase()` sees the first dead letter, not a series born at 1.
    this.messagesCounted.processed.inc(0);
    this.messagesCounted.deadLettered.inc(0);
    this.chunkDuration = metrics
      .histogram({
        name: 'audit_consumer_chunk_duration_seconds',
        help: "How long a consumer took over one chunk: parsing, the handler's durable work, dead letters.",
        labelNames: ['consumer'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      })
      .labels({ consumer: options.groupId });
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
    const started = performance.now();
    const valid: ConsumedEvent[] = [];
    const letters: DeadLetter[] = [];
    for (const message of messages) {
      const parsed = parseDomainEvent(message.value);
      if (parsed.ok) valid.push({ event: parsed.event, partition, offset: message.offset });
      else letters.push({ partition, message, reason: parsed.reason, error: parsed.error });
    }
    const spans = this.telemetry.tracing.enabled ? this.startSpans(topic, partition, messages, valid) : [];
    try {
      const work = async () => {
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
      };
      // The handler's log lines carry the first trace of the chunk (a chunk mixes traces; each has its span).
      await (spans.length > 0 ? this.telemetry.tracing.withSpan(spans[0], work) : work());
    } catch (err) {
      for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      for (const span of spans) span.end();
    }
    this.messagesCounted.processed.inc(messages.length - letters.length);
    if (letters.length > 0) this.messagesCounted.deadLettered.inc(letters.length);
    this.chunkDuration.observe(secondsSince(started));
  }

  /**
   * One span per recorded trace the chunk's messages carry (their `traceparent` header), child of the producer's
   * span: a chunk mixes many traces, and each trace shows the chunk that handled its messages. Messages without
   * a trace context share one new trace (sampled by OTEL_TRACES_SAMPLER_ARG). Each valid event gets the context
   * of its trace's span. A message of a trace that is not recorded gets neither a span nor a context: nothing
   * downstream would record it, and carrying its context on (stored with every delivery, sent with every
   * request) cost the streamer about 7 % of its throughput (bench/observability.bench.ts).
   */
  private startSpans(topic: string, partition: number, messages: KafkaMessage[], valid: ConsumedEvent[]): Span[] {
    const { tracing } = this.telemetry;
    const byParent = new Map<string, { span: Span; traceparent: string | undefined; count: number }>();
    const byOffset = new Map<string, string>();
    for (const message of messages) {
      const header = message.headers?.['traceparent'];
      // The flags are the header's last two characters: most traces are not recorded, and for those the header
      // is never decoded as a whole.
      if (
        header !== undefined &&
        !isSampled(Buffer.isBuffer(header) ? header.toString('latin1', header.length - 2) : String(header))
      )
        continue;
      const parent = header === undefined ? '' : String(header);
      let entry = byParent.get(parent);
      if (!entry) {
        const span = tracing.startSpan(
          `${this.options.groupId} process`,
          {
            kind: SpanKind.CONSUMER,
            // Few attributes: a span's cost (and its export's) grows with them; the group is in the name.
            attributes: {
              'messaging.destination.name': topic,
              'messaging.destination.partition.id': partition,
            },
          },
          tracing.extract(parent || undefined),
        );
        entry = { span, traceparent: tracing.traceparent(span), count: 0 };
        byParent.set(parent, entry);
      }
      entry.count += 1;
      if (entry.traceparent) byOffset.set(message.offset, entry.traceparent);
    }
    for (const consumed of valid) consumed.traceparent = byOffset.get(consumed.offset);
    for (const { span, count } of byParent.values()) span.setAttribute('messaging.batch.message_count', count);
    return [...byParent.values()].map((e) => e.span);
  }
}
