import { EntityManager } from '@mikro-orm/postgresql';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AUDIT_EVENT_TYPES, AuditEventTypeRegistry } from '@audit/audit-registry';
import { namespaceUpserts, toAuditEvents } from '@audit/audit-mapping';
import { AuditEvent } from '@audit/contracts';
import { BatchConsumer, ConsumedEvent, HandlerRejection, KAFKA_CLIENT } from '@audit/kafka';
import { APP_CONFIG } from '@audit/platform';
import { Kafka } from 'kafkajs';
import type { AuditRecorderConfig } from '../app/config';
import { AuditEventsRepository } from '../audit-events/audit-events.repository';
import { NamespacesRepository } from '../namespaces/namespaces.repository';
import { AuditJsonLog } from './audit-json-log';

/**
 * Consumes `domain-events` as group `audit-recorder`: maps each event, keeps the types saved to the
 * database, and stores them with the namespace read model in one transaction per chunk. The chunk's
 * offsets are committed by BatchConsumer only after that transaction; the JSON log follows the commit.
 */
@Injectable()
export class RecorderConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RecorderConsumer.name);
  private readonly consumer: BatchConsumer;

  constructor(
    @Inject(KAFKA_CLIENT) kafka: Kafka,
    @Inject(APP_CONFIG) config: AuditRecorderConfig,
    @Inject(AUDIT_EVENT_TYPES) private readonly registry: AuditEventTypeRegistry,
    private readonly em: EntityManager,
    private readonly auditEvents: AuditEventsRepository,
    private readonly namespaces: NamespacesRepository,
    private readonly jsonLog: AuditJsonLog,
  ) {
    this.consumer = new BatchConsumer(kafka, {
      groupId: config.KAFKA_GROUP_ID,
      topic: config.KAFKA_TOPIC,
      chunkSize: config.CONSUMER_CHUNK_SIZE,
      handler: (events) => this.handle(events),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
  }

  async handle(consumed: ConsumedEvent[]): Promise<HandlerRejection[]> {
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
    // A chunk without group or project changes (nearly all of them) is one autocommitted statement:
    // BEGIN and COMMIT would be two more round trips per chunk, most of the cost at low rates.
    const inserted =
      namespaces.length === 0
        ? await this.auditEvents.insertNew(this.em.fork(), toStore, payloads)
        : await this.em.fork().transactional(async (em) => {
            await this.namespaces.apply(em, namespaces);
            return this.auditEvents.insertNew(em, toStore, payloads);
          });
    // Every saved event of the chunk, not only the newly inserted ones: after a crash between the
    // commit and this append, the redelivered chunk writes the lines again. The log is at least
    // once (lines carry the event id), never missing a stored event.
    await this.jsonLog.append(payloads);
    if (inserted.length > 0) this.logger.debug(`stored ${inserted.length} audit events`);
    return rejections;
  }
}
