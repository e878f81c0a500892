import { Injectable, Logger } from '@nestjs/common';
import { Readable } from 'node:stream';
import { AuditEvent } from '@audit/contracts';
import { Principal } from '@audit/platform';
import { AuditEventFilters } from './audit-event-filters';
import { AuditEventPage, AuditEventsRepository } from './audit-events.repository';
import { csvChunks } from './audit-events.csv';
import { AuditEventSearch, AuditScope } from './audit-events.sql';

/** Rows per query: large enough that round trips do not dominate, small enough to hold in memory. */
export const EXPORT_BATCH_SIZE = 5000;

export interface CsvExport {
  /** The CSV text, read lazily: a batch is queried only when the client has taken the previous one. */
  stream: Readable;
  /** Rows encoded so far; after an aborted export, an upper bound of what the client received. */
  rowCount(): number;
}

/**
 * CSV exports of audit events. Rows are read in keyset batches, each its own short query, so an
 * export of any size holds no connection, transaction or snapshot between batches and its memory
 * is one batch; a slow or vanished client stops the reading through stream backpressure.
 */
@Injectable()
export class AuditEventsExportService {
  private readonly logger = new Logger(AuditEventsExportService.name);

  constructor(private readonly auditEvents: AuditEventsRepository) {}

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
   * or a read failed. The place where an export becomes an audit event of its own.
   */
  async onExported(principal: Principal, scope: AuditScope, filters: AuditEventFilters, rowCount: number, completed: boolean): Promise<void> {
    this.logger.log({ user_id: principal.userId, scope, filters, row_count: rowCount, completed }, 'audit events exported');
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
