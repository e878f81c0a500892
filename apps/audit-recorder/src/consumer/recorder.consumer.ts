import { Controller, Inject, Logger } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { AUDIT_EVENT_TYPES, AuditEventTypeRegistry } from '@audit/audit-registry';
import { namespaceUpserts, toAuditEvents } from '@audit/audit-mapping';
import { AuditEvent } from '@audit/contracts';
import { ChunkConsumerOptions, ChunkPattern, ConsumedEvent, HandlerRejection } from '@audit/kafka';
import { NamespacesRepository } from '@audit/namespaces';
import { APP_CONFIG } from '@audit/platform';
import { chainName } from '@audit/audit-chain';
import { Telemetry } from '@audit/telemetry';
import type { Counter } from 'prom-client';
import type { AuditRecorderConfig } from '../config';
import { ChainWriter } from '../integrity/chain-writer';
import { AuditJsonLog } from './audit-json-log';

/** The recorder's one consumer: `domain-events` as group `audit-recorder` (KAFKA_TOPIC, KAFKA_GROUP_ID). */
export const RECORDER_EVENTS = 'audit-recorder.domain-events';

/** Where `RECORDER_EVENTS` consumes from, for `KafkaChunkTransport`. */
export const recorderConsumers = (config: AuditRecorderConfig): Record<string, ChunkConsumerOptions> => ({
  [RECORDER_EVENTS]: {
    groupId: config.KAFKA_GROUP_ID,
    topic: config.KAFKA_TOPIC,
    chunkSize: config.CONSUMER_CHUNK_SIZE,
  },
});

/**
 * Consumes `domain-events` as group `audit-recorder`: maps each event, keeps the types saved to the
 * database, and appends them to the chain of the chunk's partition (ChainWriter), with the namespace read
 * model in the same transaction when the chunk changes it. The chunk's
 * offsets are committed by the transport's BatchConsumer only after this handler resolved, so after
 * that transaction; the JSON log follows the commit.
 */
@Controller()
export class RecorderConsumer {
  private readonly logger = new Logger(RecorderConsumer.name);
  private readonly stored: Counter<'event_type'>;
  private readonly topic: string;

  constructor(
    @Inject(AUDIT_EVENT_TYPES) private readonly registry: AuditEventTypeRegistry,
    @Inject(APP_CONFIG) config: AuditRecorderConfig,
    private readonly chains: ChainWriter,
    private readonly namespaces: NamespacesRepository,
    private readonly jsonLog: AuditJsonLog,
    telemetry: Telemetry,
  ) {
    this.topic = config.KAFKA_TOPIC;
    // Bounded: event types come from the registry (config/audit_events/types), a few dozen.
    this.stored = telemetry.metrics.counter({
      name: 'audit_events_stored_total',
      help: 'Audit events stored in the database, by type; a redelivered event already stored is not counted again.',
      labelNames: ['event_type'],
    });
    // Every type's series from the start, at 0: `increase()` over a series born at 5 would miss those 5.
    for (const type of registry.names) if (registry.isSavedToDatabase(type)) this.stored.inc({ event_type: type }, 0);
  }

  @ChunkPattern(RECORDER_EVENTS)
  async handle(@Payload() consumed: ConsumedEvent[]): Promise<HandlerRejection[]> {
    const rejections: HandlerRejection[] = [];
    const toStore: AuditEvent[] = [];
    for (const { event, offset } of consumed) {
      try {
        toStore.push(...toAuditEvents(event).filter((a) => this.registry.isSavedToDatabase(a.event_type)));
      } catch (err) {
        rejections.push({ offset, reason: 'mapping_failed', error: (err as Error).message });
      }
    }
    const payloads = toStore.map((a) => JSON.stringify(a)); // the column's text and the log line, serialised once
    const namespaces = namespaceUpserts(consumed.map((c) => c.event));
    // A chunk comes from one partition: its events go to that partition's chain. A chunk without group or
    // project changes (nearly all of them) is one autocommitted statement: BEGIN and COMMIT would be two more
    // round trips per chunk, most of the cost at low rates.
    const inserted =
      consumed.length === 0
        ? []
        : await this.chains.append(
            chainName(this.topic, consumed[0].partition),
            toStore,
            payloads,
            namespaces.length === 0 ? undefined : (tx) => this.namespaces.apply(tx, namespaces),
          );
    // Every saved event of the chunk, not only the newly inserted ones: after a crash between the
    // commit and this append, the redelivered chunk writes the lines again. The log is at least
    // once (lines carry the event id), never missing a stored event.
    await this.jsonLog.append(payloads);
    if (inserted.length > 0) {
      this.countStored(toStore, inserted);
      this.logger.debug(`stored ${inserted.length} audit events`);
    }
    return rejections;
  }

  /** `inserted`: the ids of `toStore` that were new. One increment per type, not per event. */
  private countStored(toStore: AuditEvent[], inserted: string[]): void {
    const isNew = inserted.length === toStore.length ? null : new Set(inserted);
    const byType = new Map<string, number>();
    for (const event of toStore) {
      if (isNew && !isNew.has(event.id)) continue;
      byType.set(event.event_type, (byType.get(event.event_type) ?? 0) + 1);
    }
    for (const [eventType, count] of byType) this.stored.inc({ event_type: eventType }, count);
  }
}
