import { jsonlLine } from '@audit/audit-chain';
import { ExportRow } from './audit-events.sql';

/*
 * JSONL encoding of audit events (docs/contracts.md, "Export formats and offline verification"): one line per
 * event, its JSON text exactly as stored with its chain fields appended as the member `audit_chain`, so that
 * `npm run audit:verify` recovers the hashed text. Nothing is parsed: the export of a row is string work.
 */

/** The line of one stored event, with its line break. */
export const auditEventJsonLine = (row: ExportRow): string =>
  `${jsonlLine(row.payload, {
    chain: row.chain_id,
    seq: Number(row.chain_seq),
    prevHash: row.prev_hash,
    hash: row.hash,
  })}\n`;

/** The JSONL text of a stream of batches, in chunks of about `chunkSize` characters; lazy, like csvChunks. */
export async function* jsonlChunks(
  batches: AsyncIterable<readonly ExportRow[]>,
  chunkSize = 64 * 1024,
): AsyncGenerator<string> {
  let chunk = '';
  for await (const batch of batches) {
    for (let i = 0; i < batch.length; i++) {
      // Each row let go as soon as it is encoded, so it dies young: held until the batch ends, the rows of
      // every batch outlived two scavenges and were promoted (the export's RSS grew 145 MB over 1M rows).
      const row = batch[i];
      (batch as Array<ExportRow | undefined>)[i] = undefined;
      chunk += auditEventJsonLine(row);
      if (chunk.length >= chunkSize) {
        yield chunk;
        chunk = '';
      }
    }
  }
  if (chunk) yield chunk;
}
