import { namespaceUpserts, toAuditEvents } from '@audit/audit-mapping';
import { AUDIT_EVENT_TYPES, AuditEventTypeRegistry } from '@audit/audit-registry';
import { ChunkConsumerOptions, ChunkPattern, ConsumedEvent } from '@audit/kafka';
import { NamespacesRepository } from '@audit/namespaces';
import { Database } from '@audit/platform';
import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { AuditStreamerConfig } from '../config';
import { DeliverySignal } from '../dispatch/delivery-signal';
import { DeliveryWorker } from '../dispatch/delivery-worker';
import { IngestRepository } from './ingest.repository';

/** The streamer's one consumer: `domain-events` as group `audit-streamer` (KAFKA_TOPIC, KAFKA_GROUP_ID). */
export const STREAMER_EVENTS = 'audit-streamer.domain-events';

/** Where `STREAMER_EVENTS` consumes from, for `KafkaChunkTransport`. */
export const streamerConsumers = (config: AuditStreamerConfig): Record<string, ChunkConsumerOptions> => ({
  [STREAMER_EVENTS]: { groupId: config.KAFKA_GROUP_ID, topic: config.KAFKA_TOPIC },
});

/** Longest wait of a chunk for room in the worker's queue before its deliveries go to the claim instead. */
const HAND_OFF_WAIT_MS = 1_000;

/**
 * Turns domain events into deliveries: a `@ChunkPattern` controller run by `KafkaChunkTransport`
 * (connected in main.ts). Per chunk, in one transaction: the namespaces read model is updated first (so a group
 * created earlier in the same chunk already resolves), then every streamed audit event fans out to
 * its matching destinations. Offsets are committed only after that. The deliveries leased at insert
 * are then handed to this process's worker; the chunk waits first for room in the worker's queue,
 * which is how a consumer running ahead of the receivers slows down (bounded: see
 * DeliveryWorker.waitForRoom).
 */
@Controller()
export class StreamingConsumer {
  private readonly logger = new Logger(StreamingConsumer.name);

  constructor(
    @Inject(AUDIT_EVENT_TYPES) private readonly registry: AuditEventTypeRegistry,
    private readonly database: Database,
    private readonly namespaces: NamespacesRepository,
    private readonly deliveries: IngestRepository,
    private readonly signal: DeliverySignal,
    private readonly worker: DeliveryWorker,
  ) {}

  /** One chunk of domain events: resolves once its deliveries are committed (then the offsets may be). */
  @ChunkPattern(STREAMER_EVENTS)
  async handle(@Payload() consumed: ConsumedEvent[]): Promise<void> {
    const events = consumed.map((c) => c.event);
    // Each delivery continues the trace of the message its event came from (with tracing on).
    const traces = new Map<string, string>();
    const streamed = consumed.flatMap(({ event, traceparent }) => {
      const audit = toAuditEvents(event).filter((a) => this.registry.isStreamed(a.event_type));
      if (traceparent) for (const a of audit) traces.set(a.id, traceparent);
      return audit;
    });
    const handOff = await this.worker.waitForRoom(HAND_OFF_WAIT_MS);
    const lease = { leaseMs: this.worker.leaseMs, saturated: handOff ? this.worker.saturated() : ('all' as const) };
    const namespaces = namespaceUpserts(events);
    // Without group or project changes (nearly every chunk) one autocommitted statement: no BEGIN
    // and COMMIT round trips, most of the cost per chunk at low rates.
    const created =
      namespaces.length === 0
        ? await this.deliveries.insertMatching(this.database.autocommit, streamed, lease, traces)
        : await this.database.transaction(async (tx) => {
            await this.namespaces.apply(tx, namespaces);
            return this.deliveries.insertMatching(tx, streamed, lease, traces);
          });
    if (created.length === 0) return;
    this.logger.debug?.({ events: events.length, deliveries: created.length }, 'deliveries created');
    this.worker.offer(created.filter((d) => d.leased));
    if (created.some((d) => !d.leased)) this.signal.wake();
  }
}
