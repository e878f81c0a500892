import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { AuditEvent, DomainEvent, DomainEventOf, envelope, Scope } from '@audit/contracts';
import { Outbox } from '@audit/outbox';
import { Database, Principal, ServiceUnavailableError } from '@audit/platform';
import { retryTransient } from '@audit/sql';
import { SortOrder } from './audit-event-cursor';
import { AuditEventFilters } from './audit-event-filters';
import { AuditEventPage, AuditEventsRepository } from './audit-events.repository';
import { csvChunks } from './audit-events.csv';
import { AuditEventSearch } from './audit-events.sql';
import { EXPORT_RETRY_AFTER_S, ExportSlots } from './export-slots';

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

/** Who exports what, from where: what both of an export's own audit events say. */
export interface ExportRequest {
  principal: Principal;
  subject: Scope;
  filters: AuditEventFilters;
  sort: SortOrder;
  origin: { ipAddress: string | null; correlationId: string };
}

/** An export whose start is recorded; its end is recorded under the same id. */
export interface RecordedExport extends ExportRequest {
  exportId: string;
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
    private readonly database: Database,
    private readonly outbox: Outbox,
    private readonly slots: ExportSlots,
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
    return {
      stream: Readable.from(csvChunks(counted(this.batches(search, first))), { objectMode: false }),
      rowCount: () => rows,
    };
  }

  /** A slot for one more export of this user, or a 429 (per user and per instance caps); call the result to free it. */
  acquireSlot(principal: Principal): () => void {
    return this.slots.acquire(principal.userId);
  }

  /**
   * Records the export before its first byte is sent: an export that cannot be recorded is refused
   * (503), never served unaudited. The event is written to this service's outbox and published to
   * domain-events, then recorded and streamed like any other.
   */
  async recordStart(request: ExportRequest): Promise<RecordedExport> {
    const exportId = randomUUID();
    const { filters, sort } = request;
    try {
      await this.append(
        this.envelopeOf(request, exportId, 1, 'AuditEventsExportStarted', {
          export_id: exportId,
          format: 'csv',
          filters: { ...wireFilters(filters), sort },
        }),
      );
    } catch (err) {
      this.logger.error({ err }, 'recording the start of an export failed: export refused');
      throw new ServiceUnavailableError(
        'The export could not be recorded in the audit log, so it was not started',
        EXPORT_RETRY_AFTER_S,
      );
    }
    return { ...request, exportId };
  }

  /** Called once per export when its response has ended; `completed` false if the client went away or a read failed. */
  async recordEnd(started: RecordedExport, rowCount: number, completed: boolean): Promise<void> {
    const { exportId, filters, sort, principal, subject } = started;
    const data = {
      export_id: exportId,
      format: 'csv' as const,
      filters: { ...wireFilters(filters), sort },
      row_count: rowCount,
      completed,
    };
    await retryTransient(() => this.append(this.envelopeOf(started, exportId, 2, 'AuditEventsExported', data)));
    this.logger.log(
      {
        user_id: principal.userId,
        entity_type: subject.entity_type,
        entity_id: subject.entity_id,
        export_id: exportId,
        row_count: rowCount,
        completed,
      },
      'audit events exported',
    );
  }

  private envelopeOf<T extends 'AuditEventsExportStarted' | 'AuditEventsExported'>(
    request: ExportRequest,
    exportId: string,
    version: number,
    type: T,
    data: DomainEventOf<T>['data'],
  ): DomainEvent {
    const { principal, subject, origin } = request;
    const actor = { id: principal.userId, name: principal.username, ip_address: origin.ipAddress };
    return envelope(type, data, { type: 'AuditEventsExport', id: exportId, version }, subject, {
      actor,
      correlationId: origin.correlationId,
      now: new Date(),
    });
  }

  /** One autocommitted statement (the outbox insert and its NOTIFY); the relay is woken once it is durable. */
  private async append(event: DomainEvent): Promise<void> {
    await this.outbox.append(this.database.autocommit, [event]);
  }

  private async *batches(
    search: Omit<AuditEventSearch, 'limit' | 'after'>,
    first: AuditEventPage,
  ): AsyncGenerator<AuditEvent[]> {
    let page = first;
    yield page.events;
    while (page.next) {
      page = await this.batch(search, page.next);
      yield page.events;
    }
  }

  private batch(
    search: Omit<AuditEventSearch, 'limit' | 'after'>,
    after?: AuditEventPage['next'],
  ): Promise<AuditEventPage> {
    return this.auditEvents.findPage({ ...search, limit: EXPORT_BATCH_SIZE, after });
  }
}
