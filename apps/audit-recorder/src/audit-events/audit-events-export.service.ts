import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { DomainEvent, DomainEventOf, envelope, Scope } from '@audit/contracts';
import { Outbox } from '@audit/outbox';
import { Database, Principal, ServiceUnavailableError } from '@audit/platform';
import { retryTransient } from '@audit/sql';
import { SortOrder } from './audit-event-cursor';
import { AuditEventFilters } from './audit-event-filters';
import { CursorPosition } from './audit-event-cursor';
import { csvChunks } from './audit-events.csv';
import { jsonlChunks } from './audit-events.jsonl';
import { AuditEventSearch, ExportRow, exportStatement } from './audit-events.sql';
import { EXPORT_RETRY_AFTER_S, ExportSlots } from './export-slots';

/**
 * Rows per query. Each row now carries its stored JSON text and chain fields, and the next batch is read while
 * one is sent: at 1,000 rows the rows outlived two scavenges of the deployed 4 MB semi-space and were promoted,
 * and a 1M-row export grew RSS by ~145 MB; at 200 (rows also let go as they are encoded) it grows ~80 MB, at
 * ~114,000 rows/s (1,000: ~102,000; 100: ~82,000, per-query cost). One month's partition per query keeps the
 * query's own cost small (bench/recorder-query.bench.ts).
 */
export const EXPORT_BATCH_SIZE = 200;

/** csv: the readable columns and the chain columns; jsonl: each stored event with its chain fields. */
export type ExportFormat = 'csv' | 'jsonl';

export interface OpenExport {
  /** The file's text, read lazily: a batch is queried only when the client has taken the previous one. */
  stream: Readable;
  /** Rows encoded so far; after an aborted export, an upper bound of what the client received. */
  rowCount(): number;
}

/** One batch of an export in order; `next` is the position after its last row when more rows match. */
/** What an export searches: the lists' search without their page size and position. */
type ExportSearch = Omit<AuditEventSearch, 'limit' | 'after'>;

export interface ExportPage {
  rows: ExportRow[];
  next?: CursorPosition;
}

/** Who exports what, in which format, from where: what both of an export's own audit events say. */
export interface ExportRequest {
  principal: Principal;
  subject: Scope;
  filters: AuditEventFilters;
  sort: SortOrder;
  format: ExportFormat;
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
 * CSV and JSONL exports of audit events, with each event's chain fields (docs/contracts.md, "Export
 * formats and offline verification"). Rows are read in keyset batches, each its own short query, so an
 * export of any size holds no connection, transaction or snapshot between batches and its memory
 * is one batch; a slow or vanished client stops the reading through stream backpressure.
 */
@Injectable()
export class AuditEventsExportService {
  private readonly logger = new Logger(AuditEventsExportService.name);

  constructor(
    private readonly database: Database,
    private readonly outbox: Outbox,
    private readonly slots: ExportSlots,
  ) {}

  /**
   * Reads the first batch before returning, so that a query that fails does so while the response
   * can still be a problem+json error instead of a truncated file.
   *
   * The export holds the events stored when it starts: the chain heads are read first, and a row
   * appended after them (read by a later batch) is left out. Each batch is its own snapshot, so without
   * this cut an event stored late with an old created_at could be missed by the batches while the next
   * event of its chain is not, and the file would show a deleted event where there is none.
   */
  async open(search: ExportSearch, format: ExportFormat): Promise<OpenExport> {
    const heads = await this.chainHeads();
    const spans = await this.monthSpans(search);
    const first: ExportPage = spans.length > 0 ? await this.batch(spans[0]) : { rows: [] };
    let rows = 0;
    const counted = async function* (batches: AsyncIterable<ExportRow[]>) {
      for await (const batch of batches) {
        const kept = batch.filter((row) => Number(row.chain_seq) <= (heads.get(row.chain_id) ?? 0));
        rows += kept.length;
        yield kept;
      }
    };
    const encode = format === 'jsonl' ? jsonlChunks : csvChunks;
    return {
      stream: Readable.from(encode(counted(this.batches(spans, first))), { objectMode: false }),
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
    const { filters, sort, format } = request;
    try {
      await this.append(
        this.envelopeOf(request, exportId, 1, 'AuditEventsExportStarted', {
          export_id: exportId,
          format,
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
    const { exportId, filters, sort, format, principal, subject } = started;
    const data = {
      export_id: exportId,
      format,
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
        format,
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

  /**
   * The batches of every span in turn; `first` is the first batch of the first span, read already. The next
   * batch is queried while the current one is encoded and sent: PostgreSQL and the encoding overlap instead of
   * taking turns. At most one batch is read ahead, so memory stays two batches and a client that stops pulling
   * stops the reads one batch later.
   */
  private async *batches(spans: ExportSearch[], first: ExportPage): AsyncGenerator<ExportRow[]> {
    let span = 0;
    let current = first;
    for (;;) {
      let next: Promise<ExportPage> | null = null;
      if (current.next) next = this.batch(spans[span], current.next);
      else if (span + 1 < spans.length) next = this.batch(spans[++span]);
      // Observed now, awaited below: a read-ahead left behind by a client that went away must not go unhandled.
      next?.catch(() => undefined);
      yield current.rows;
      if (!next) return;
      current = await next;
    }
  }

  /**
   * The search cut into one search per monthly partition of audit_events that the window touches, in the
   * export's order. Each batch then plans one partition: over the whole window the planner weighed every
   * partition for every batch, ~3 ms a batch at 25 months, more than running it.
   */
  private async monthSpans(search: ExportSearch): Promise<ExportSearch[]> {
    const rows = await this.database.autocommit.query<{ month: string }>(
      `select substr(c.relname, 15, 4) || '-' || substr(c.relname, 20, 2) as month
         from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = 'audit_events'::regclass and c.relname ~ '^audit_events_y[0-9]{4}m[0-9]{2}$'`,
    );
    const { createdAfter, createdBefore } = search.filters;
    const after = createdAfter ? Date.parse(createdAfter) : -Infinity;
    const before = createdBefore ? Date.parse(createdBefore) : Infinity;
    const spans = rows
      .map((r) => {
        const start = Date.parse(`${r.month}-01T00:00:00.000Z`);
        const next = new Date(start);
        next.setUTCMonth(next.getUTCMonth() + 1);
        return { start, end: next.getTime() };
      })
      .filter((m) => m.end > after && m.start <= before)
      .sort((a, b) => (search.sort === 'desc' ? b.start - a.start : a.start - b.start));
    return spans.map((m) => ({
      ...search,
      filters: {
        ...search.filters,
        createdAfter: m.start >= after ? new Date(m.start).toISOString() : createdAfter,
        // The last microsecond of the month (timestamptz's precision): the bound is inclusive.
        createdBefore: m.end - 1 <= before ? `${new Date(m.end - 1).toISOString().slice(0, -1)}999Z` : createdBefore,
      },
    }));
  }

  /** Each chain's last position now: every row up to it is committed (a chunk and its head move in one statement). */
  private async chainHeads(): Promise<Map<string, number>> {
    const rows = await this.database.autocommit.query<{ chain: string; seq: string }>(
      'select chain, seq from audit_chain_heads',
    );
    return new Map(rows.map((r) => [r.chain, Number(r.seq)]));
  }

  /** The next EXPORT_BATCH_SIZE rows after `after`; one extra row is read to know if more exist. */
  async batch(search: ExportSearch, after?: CursorPosition): Promise<ExportPage> {
    const { text, params } = exportStatement({ ...search, limit: EXPORT_BATCH_SIZE + 1, after });
    const rows = await this.database.autocommit.query<ExportRow>(text, params);
    if (rows.length <= EXPORT_BATCH_SIZE) return { rows };
    rows.length = EXPORT_BATCH_SIZE;
    const last = rows[EXPORT_BATCH_SIZE - 1];
    return { rows, next: { createdAt: last.cursor_at, id: last.id } };
  }
}
