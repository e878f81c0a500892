import { EntityManager } from '@mikro-orm/postgresql';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { AuditEvent, envelope, Scope } from '@audit/contracts';
import { OUTBOX_CHANNEL, outboxInsert, OutboxRelay } from '@audit/outbox';
import { APP_CONFIG, Principal } from '@audit/platform';
import type { AuditRecorderConfig } from '../app/config';
import { SortOrder } from './audit-event-cursor';
import { AuditEventFilters } from './audit-event-filters';
import { AuditEventPage, AuditEventsRepository } from './audit-events.repository';
import { csvChunks } from './audit-events.csv';
import { AuditEventSearch } from './audit-events.sql';

/**
 * Rows per query: large enough that round trips do not dominate (1000 exports as fast as 5000),
 * small enough that most of a batch (rows carry parsed payloads, ~4 KB each) dies in V8's young
 * generation: at 5000 every batch was promoted and RSS grew ~170 MB with garbage during a 2M-row
 * export, at 1000 ~60 MB; the live heap stays at ~36 MB either way (measured with forced GCs).
 */
export const EXPORT_BATCH_SIZE = 1000;

export interface CsvExport {
  /** The CSV text, read lazily: a batch is queried only when the client has taken the previous one. */
  stream: Readable;
  /** Rows encoded so far; after an aborted export, an upper bound of what the client received. */
  rowCount(): number;
}

/** What the export's own audit event says: who, what scope, which filters, how many rows, from where. */
export interface ExportDone {
  principal: Principal;
  subject: Scope;
  filters: AuditEventFilters;
  sort: SortOrder;
  rowCount: number;
  completed: boolean;
  origin: { ipAddress: string | null; correlationId: string };
}

/** The filters as the query parameters that set them, as an auditor reads them back. */
const wireFilters = (f: AuditEventFilters) => ({
  ...(f.createdAfter && { created_after: f.createdAfter }),
  ...(f.createdBefore && { created_before: f.createdBefore }),
  ...(f.eventTypes && { event_type: f.eventTypes }),
  ...(f.authorId !== undefined && { author_id: f.authorId }),
  ...(f.entityType && { entity_type: f.entityType }),
  ...(f.entityId !== undefined && { entity_id: f.entityId }),
  ...(f.targetType && { target_type: f.targetType }),
  ...(f.targetId !== undefined && { target_id: f.targetId }),
});

/**
 * CSV exports of audit events. Rows are read in keyset batches, each its own short query, so an
 * export of any size holds no connection, transaction or snapshot between batches and its memory
 * is one batch; a slow or vanished client stops the reading through stream backpressure.
 */
@Injectable()
export class AuditEventsExportService {
  private readonly logger = new Logger(AuditEventsExportService.name);

  constructor(
    private readonly auditEvents: AuditEventsRepository,
    private readonly em: EntityManager,
    private readonly relay: OutboxRelay,
    @Inject(APP_CONFIG) private readonly config: AuditRecorderConfig,
  ) {}

  /**
   * Reads the first batch before returning, so that a query that fails does so while the response
   * can still be a problem+json error instead of a truncated CSV.
   */
  async open(search: Omit<AuditEventSearch, 'limit' | 'after'>): Promise<CsvExport> {
    const first = await this.batch(search);
    let rows = 0;
    const counted = async function* (batches: AsyncIterable<AuditEvent[]>) {
      for await (const batch of batches) {
        rows += batch.length;
        yield batch;
      }
    };
    return { stream: Readable.from(csvChunks(counted(this.batches(search, first))), { objectMode: false }), rowCount: () => rows };
  }

  /**
   * Called once per export when its response has ended, `completed` false if the client went away
   * or a read failed. The export becomes an audit event of its own: a domain event written to this
   * service's outbox, published to domain-events, then recorded and streamed like any other.
   */
  async onExported(done: ExportDone): Promise<void> {
    const { principal, subject, filters, sort, rowCount, completed, origin } = done;
    const event = envelope(
      'AuditEventsExported',
      { format: 'csv', filters: { ...wireFilters(filters), sort }, row_count: rowCount, completed },
      { type: 'AuditEventsExport', id: randomUUID(), version: 1 },
      subject,
      { actor: { id: principal.userId, name: principal.username, ip_address: origin.ipAddress }, correlationId: origin.correlationId, now: new Date() },
    );
    const insert = outboxInsert(this.config.KAFKA_TOPIC, [event]);
    await this.em.fork().execute(`with queued as (${insert.sql}) select pg_notify('${OUTBOX_CHANNEL}', '')`, insert.params);
    this.relay.wake();
    this.logger.log({ user_id: principal.userId, entity_type: subject.entity_type, entity_id: subject.entity_id, row_count: rowCount, completed }, 'audit events exported');
  }

  private async *batches(search: Omit<AuditEventSearch, 'limit' | 'after'>, first: AuditEventPage): AsyncGenerator<AuditEvent[]> {
    let page = first;
    yield page.events;
    while (page.next) {
      page = await this.batch(search, page.next);
      yield page.events;
    }
  }

  private batch(search: Omit<AuditEventSearch, 'limit' | 'after'>, after?: AuditEventPage['next']): Promise<AuditEventPage> {
    return this.auditEvents.findPage({ ...search, limit: EXPORT_BATCH_SIZE, after });
  }
}
