import { CsvError, parse } from 'csv-parse';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { eventHash } from './chain-hash';
import { SignedCheckpoint } from './checkpoint';
import { VerifiedRow } from './verifier';

/*
 * How exports carry the chain (docs/contracts.md, "Export formats and offline verification"), written by the
 * recorder's export and read back by the offline verifier (`npm run audit:verify`).
 *
 * - JSONL: one line per event, the event's stored JSON text with one member appended before its final `}`:
 *   `,"audit_chain":{"chain":"domain-events/0","seq":12,"prev_hash":"<64 hex>","hash":"<64 hex>"}`. The hashed
 *   text is the line without that member. A reader strips it textually, which gives back the stored text whatever
 *   its spacing; one that parses instead deletes `audit_chain` and re-serialises with JSON.stringify, which gives
 *   the same text for everything the recorder stored (its texts are JSON.stringify's).
 * - CSV: the readable columns, then CHAIN_CSV_COLUMNS; `Event JSON` is the stored text, the one that is hashed.
 */

export const CHAIN_MEMBER = 'audit_chain';

/** The chain columns an exported CSV ends with, in order. */
export const CHAIN_CSV_COLUMNS = ['Chain', 'Chain Sequence', 'Previous Hash', 'Hash', 'Event JSON'] as const;

/** Where an event sits in its chain; hashes in lowercase hex. */
export interface ChainFields {
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
}

/** One exported event: its chain fields, its id and its JSON text as stored (what is hashed). */
export interface ExportedRow extends ChainFields {
  id: string;
  text: string;
}

export interface ExportedEvent {
  row: ExportedRow;
  /** The event parsed from `row.text`; null when that text is not a JSON object (it then fails its hash). */
  event: Record<string, unknown> | null;
}

/** A line or record that is not an exported event; `line` counts from 1 (the CSV header is line 1). */
export class ExportFormatError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ExportFormatError';
  }
}

/** The JSONL line of one stored event (without the line break). */
export function jsonlLine(jsonText: string, chain: ChainFields): string {
  const end = jsonText.lastIndexOf('}');
  if (end < 0 || jsonText.slice(end + 1).trim() !== '') throw new Error('the stored JSON text is not an object');
  const body = jsonText.slice(0, end);
  const separator = /^\s*\{\s*$/.test(body) ? '' : ',';
  return `${body}${separator}"${CHAIN_MEMBER}":{"chain":${JSON.stringify(chain.chain)},"seq":${chain.seq},"prev_hash":"${chain.prevHash}","hash":"${chain.hash}"}}`;
}

// The appended member exactly as jsonlLine writes it; anything else goes through the parsing path.
const MEMBER_START = `,"${CHAIN_MEMBER}":{`;
const MEMBER =
  /^,"audit_chain":\{"chain":("(?:[^"\\]|\\.)*"),"seq":([1-9]\d{0,15}),"prev_hash":"([0-9a-f]{64})","hash":"([0-9a-f]{64})"\}\}\s*$/;
const HEX_HASH = /^[0-9a-fA-F]{64}$/;
// The recorder writes `id` first (the mapping's key order).
const LEADING_ID = /^\{\s*"id"\s*:\s*"([^"\\]{1,128})"/;

/**
 * The appended member exactly as jsonlLine writes it (`member` starts at its leading comma), or null: the byte
 * reader of the offline verifier takes its lines' members from here and sends anything else through
 * parseJsonlLine.
 */
export function parseChainMember(
  member: string,
): { chain: string; seq: number; prevHash: string; hash: string } | null {
  const m = MEMBER.exec(member);
  if (!m) return null;
  const seq = Number(m[2]);
  if (!Number.isSafeInteger(seq)) return null;
  return { chain: JSON.parse(m[1]) as string, seq, prevHash: m[3], hash: m[4] };
}

/** The id of an event text whose first member is `id`, as the recorder writes it; undefined otherwise. */
export const leadingId = (text: string): string | undefined => LEADING_ID.exec(text)?.[1];

/**
 * Reads one JSONL line back. The member is found textually (its last occurrence: inside the stored text a
 * `"` would be escaped, so the stored text cannot contain it); a line written some other way (re-serialised
 * by a tool) is parsed, its member deleted, and the rest re-serialised.
 */
export function parseJsonlLine(line: string, lineNumber = 1): ExportedEvent {
  const at = line.lastIndexOf(MEMBER_START);
  const member = at > 0 ? MEMBER.exec(line.slice(at)) : null;
  if (member) {
    const seq = Number(member[2]);
    const text = `${line.slice(0, at)}}`;
    // The id is read where the recorder writes it, first; the event is parsed only when asked for (checkpoints
    // are looked for by the verifier): parsing every line cost more than hashing it.
    const leading = LEADING_ID.exec(text)?.[1];
    if (Number.isSafeInteger(seq)) {
      const chain = JSON.parse(member[1]) as string;
      const row = { id: leading ?? '', chain, seq, prevHash: member[3], hash: member[4], text };
      if (leading !== undefined) return lazyEvent(row);
      let event: unknown = null;
      try {
        event = JSON.parse(text);
      } catch {
        // An edited text that no longer parses: still a row, whose content check fails at its position.
      }
      if (event === null || isObject(event)) return { row: { ...row, id: event ? idOf(event) : '' }, event };
    }
  }
  return parseJsonlLineSlowly(line, lineNumber);
}

/** `row` with its event parsed from its text on first use; null when that text is not a JSON object. */
function lazyEvent(row: ExportedRow): ExportedEvent {
  let parsed: Record<string, unknown> | null | undefined;
  return {
    row,
    get event() {
      if (parsed === undefined) {
        try {
          const value: unknown = JSON.parse(row.text);
          parsed = isObject(value) ? value : null;
        } catch {
          parsed = null;
        }
      }
      return parsed;
    },
  };
}

function parseJsonlLineSlowly(line: string, lineNumber: number): ExportedEvent {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    throw new ExportFormatError(lineNumber, 'is not a JSON object');
  }
  if (!isObject(event)) throw new ExportFormatError(lineNumber, 'is not a JSON object');
  const chain = event[CHAIN_MEMBER];
  if (!isObject(chain)) throw new ExportFormatError(lineNumber, `has no "${CHAIN_MEMBER}" member`);
  const fields = chainFields(chain['chain'], chain['seq'], chain['prev_hash'], chain['hash']);
  if (typeof fields === 'string') throw new ExportFormatError(lineNumber, `"${CHAIN_MEMBER}": ${fields}`);
  delete event[CHAIN_MEMBER];
  return { row: { id: idOf(event), ...fields, text: JSON.stringify(event) }, event };
}

/** Checked chain fields, or what is wrong with them. */
function chainFields(chain: unknown, seq: unknown, prevHash: unknown, hash: unknown): ChainFields | string {
  if (typeof chain !== 'string' || chain === '') return 'chain must be a non-empty string';
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return 'seq must be a positive integer';
  if (typeof prevHash !== 'string' || !HEX_HASH.test(prevHash)) return 'prev_hash must be 64 hex digits';
  if (typeof hash !== 'string' || !HEX_HASH.test(hash)) return 'hash must be 64 hex digits';
  return { chain, seq: seq as number, prevHash: prevHash.toLowerCase(), hash: hash.toLowerCase() };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const idOf = (event: Record<string, unknown>, fallback = ''): string =>
  typeof event['id'] === 'string' ? event['id'] : fallback;

/** Whether the row's hash covers its text at its position after its prev_hash: the row's own content check. */
export function contentMatches(row: Pick<ExportedRow, 'seq' | 'prevHash' | 'hash' | 'text'>): boolean {
  return eventHash(Buffer.from(row.prevHash, 'hex'), row.seq, row.text).toString('hex') === row.hash;
}

/** The row as the verifier takes it, with its content checked. */
export const verifiedRowOf = (row: ExportedRow): VerifiedRow => ({
  id: row.id,
  chain: row.chain,
  seq: row.seq,
  prevHash: row.prevHash,
  hash: row.hash,
  contentOk: contentMatches(row),
});

/**
 * The signed checkpoint an `audit_log_checkpoint_created` event carries, if it is one: `body` and `signature`
 * among its details (the mapping spreads its extra details there), or under `details.extra`.
 */
export function checkpointOf(event: Record<string, unknown> | null): SignedCheckpoint | null {
  if (!event || event['event_type'] !== 'audit_log_checkpoint_created') return null;
  const details = event['details'];
  if (!isObject(details)) return null;
  const holder = isObject(details['extra']) ? details['extra'] : details;
  if (typeof holder['body'] !== 'string' || typeof holder['signature'] !== 'string') return null;
  return { body: holder['body'], signature: holder['signature'] };
}

/** The events of a JSONL export, in file order; blank lines are skipped. Throws ExportFormatError at a bad line. */
export async function* readJsonlExport(source: Readable): AsyncGenerator<ExportedEvent> {
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    yield parseJsonlLine(line, lineNumber);
  }
}

// csvField (apps/audit-recorder) prefixes `'` to text a spreadsheet would run as a formula; a chain name
// (a Kafka topic and a number) never holds a `'` of its own.
const NEUTRALISED = /^'[=+\-@\t\r]/;

/**
 * The events of a CSV export, in file order. The header must name `ID` and the chain columns (found by name,
 * so columns added later do not matter). Throws ExportFormatError at a bad header or record.
 */
export async function* readCsvExport(source: Readable): AsyncGenerator<ExportedEvent> {
  const parser = source.pipe(parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }));
  source.on('error', (err) => parser.destroy(err));
  try {
    yield* csvEvents(parser as AsyncIterable<{ record: string[]; info: { lines: number } }>);
  } catch (err) {
    // csv-parse's own errors (an unclosed quote, ...) carry the line they stopped at.
    if (err instanceof ExportFormatError || !(err instanceof CsvError)) throw err;
    throw new ExportFormatError((err as CsvError & { lines?: number }).lines ?? 0, err.message);
  }
}

async function* csvEvents(
  parser: AsyncIterable<{ record: string[]; info: { lines: number } }>,
): AsyncGenerator<ExportedEvent> {
  let columns: { id: number; chain: number; seq: number; prevHash: number; hash: number; json: number } | null = null;
  for await (const { record, info } of parser) {
    if (!columns) {
      const at = (name: string) => record.indexOf(name);
      const missing = ['ID', ...CHAIN_CSV_COLUMNS].filter((name) => at(name) < 0);
      if (missing.length)
        throw new ExportFormatError(
          1,
          `the header has no column ${missing.join(', ')}: not an export with chain columns`,
        );
      columns = {
        id: at('ID'),
        chain: at('Chain'),
        seq: at('Chain Sequence'),
        prevHash: at('Previous Hash'),
        hash: at('Hash'),
        json: at('Event JSON'),
      };
      continue;
    }
    const line = info.lines;
    if (record.length <= Math.max(...Object.values(columns)))
      throw new ExportFormatError(line, `has ${record.length} fields, fewer than the header`);
    const rawChain = record[columns.chain];
    const seqText = record[columns.seq];
    const fields = chainFields(
      NEUTRALISED.test(rawChain) ? rawChain.slice(1) : rawChain,
      /^[1-9]\d{0,15}$/.test(seqText) ? Number(seqText) : NaN,
      record[columns.prevHash],
      record[columns.hash],
    );
    if (typeof fields === 'string') throw new ExportFormatError(line, fields);
    const text = record[columns.json];
    let event: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      event = isObject(parsed) ? parsed : null;
    } catch {
      // Reported by its content check: the text is not what was hashed.
    }
    yield { row: { id: event ? idOf(event, record[columns.id]) : record[columns.id], ...fields, text }, event };
  }
}
