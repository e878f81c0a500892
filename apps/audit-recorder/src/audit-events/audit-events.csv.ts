import { CHAIN_CSV_COLUMNS } from '@audit/audit-chain';
import { AuditEvent } from '@audit/contracts';
import { ExportRow } from './audit-events.sql';

/*
 * CSV encoding of audit events: RFC 4180 (comma, CRLF, fields with a comma, quote or line break
 * quoted, quotes doubled), hand-written because it is a dozen lines and `csv-stringify` is not a
 * dependency. Text that a spreadsheet would run as a formula is neutralised (OWASP "CSV Injection").
 * The readable columns come first; the chain columns after them let `npm run audit:verify` check the
 * file (docs/contracts.md, "Export formats and offline verification"): `Event JSON` is the stored text,
 * which starts with `{` and so is never neutralised.
 */

export const CSV_COLUMNS = [
  'ID',
  'Author ID',
  'Author Name',
  'Entity ID',
  'Entity Type',
  'Entity Path',
  'Target ID',
  'Target Type',
  'Target Details',
  'Action',
  'IP Address',
  'Created At (UTC)',
  ...CHAIN_CSV_COLUMNS,
] as const;

// Spreadsheets start a formula at = + - @, and some also after a leading tab or carriage return.
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One field. Text that could start a formula gets a leading `'`, which spreadsheets show as text;
 * numbers are written as they are (they come from integer columns, never from user input).
 */
export function csvField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? String(value) : FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvLine = (fields: ReadonlyArray<string | number | null | undefined>): string =>
  `${fields.map(csvField).join(',')}\r\n`;

export const CSV_HEADER = csvLine(CSV_COLUMNS);

/**
 * The row of one stored audit event, in the order of CSV_COLUMNS; Action is the event's message. `event`
 * is the row's payload parsed (given when the caller has it already).
 */
export const auditEventCsvLine = (row: ExportRow, event: AuditEvent = JSON.parse(row.payload)): string =>
  csvLine([
    event.id,
    event.author_id,
    event.author_name,
    event.entity_id,
    event.entity_type,
    event.entity_path,
    event.target_id,
    event.target_type,
    event.target_details,
    event.details.custom_message,
    event.ip_address,
    event.created_at,
    row.chain_id,
    Number(row.chain_seq),
    row.prev_hash,
    row.hash,
    row.payload,
  ]);

/**
 * The CSV text of a stream of batches, header first, in chunks of about `chunkSize` characters: one
 * socket write per row would dominate the cost of a large export. Lazy, so a consumer that stops
 * pulling stops the reads behind it.
 */
export async function* csvChunks(
  batches: AsyncIterable<readonly ExportRow[]>,
  chunkSize = 64 * 1024,
): AsyncGenerator<string> {
  let chunk = CSV_HEADER;
  for await (const batch of batches) {
    for (let i = 0; i < batch.length; i++) {
      // Each row let go as soon as it is encoded, so it dies young: held until the batch ends, the rows of
      // every batch outlived two scavenges and were promoted (the export's RSS grew 145 MB over 1M rows).
      const row = batch[i];
      (batch as Array<ExportRow | undefined>)[i] = undefined;
      chunk += auditEventCsvLine(row);
      if (chunk.length >= chunkSize) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk) yield chunk;
}
