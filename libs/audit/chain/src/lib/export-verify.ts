import { hash as hashOnce, KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { SignedCheckpoint } from './checkpoint';
import {
  checkpointOf,
  contentMatches,
  ExportedEvent,
  ExportFormatError,
  leadingId,
  parseChainMember,
  parseJsonlLine,
  readCsvExport,
} from './export-format';
import { ChainVerifier, VerificationMode, VerificationResult, VerifiedRow } from './verifier';

/*
 * Offline verification of an export (docs/contracts.md, "Export formats and offline verification"), the core of
 * `npm run audit:verify`: the export is streamed, each event's content is hashed as it is read and only its small
 * fields are kept (packed: ~100 bytes an event, never the JSON text), then they are sorted by chain and position
 * and pushed through ChainVerifier, the engine of the online verification.
 */

export type ExportFileFormat = 'jsonl' | 'csv';

export interface ExportVerificationOptions {
  format: ExportFileFormat;
  /** The recorder's public key, or several (the keys of earlier signing keys too, after a rotation). */
  publicKey: KeyObject | readonly KeyObject[];
  /** The checkpoints to trust (e.g. from GET /api/v4/audit_events/checkpoints); by default those the export carries. */
  checkpoints?: SignedCheckpoint[];
  mode: VerificationMode;
}

/**
 * Verifies the export read from `source`. A record that cannot be read after the first is damage, reported as
 * the verdict (nothing after it is checked); when the very first cannot be read the stream is not an export at
 * all, and its ExportFormatError is thrown.
 */
/** Lines that may hold a checkpoint; the others are never parsed. */
const CHECKPOINT_TYPE = '"audit_log_checkpoint_created"';

export async function verifyExportStream(
  source: Readable,
  options: ExportVerificationOptions,
): Promise<VerificationResult> {
  const table = new RowTable();
  const found: SignedCheckpoint[] = [];
  const take = (exported: ExportedEvent) => {
    const { row } = exported;
    table.add(row.id, row.chain, row.seq, row.prevHash, row.hash, contentMatches(row));
    const checkpoint = options.checkpoints || !row.text.includes(CHECKPOINT_TYPE) ? null : checkpointOf(exported.event);
    if (checkpoint) found.push(checkpoint);
  };
  try {
    if (options.format === 'csv') {
      for await (const exported of readCsvExport(source) as AsyncIterable<ExportedEvent>) take(exported);
    } else {
      await readJsonlBytes(source, (line, lineNumber) => {
        if (!takeJsonlLine(line, table, options.checkpoints ? null : found))
          take(parseJsonlLine(line.toString('utf8'), lineNumber));
      });
    }
  } catch (err) {
    if (!(err instanceof ExportFormatError) || table.length === 0) throw err;
    return unreadable(err);
  } finally {
    source.destroy();
  }
  const verifier = new ChainVerifier({
    checkpoints: options.checkpoints ?? found,
    publicKey: options.publicKey,
    mode: options.mode,
  });
  table.pushSorted(verifier);
  return verifier.result();
}

/** A damaged record in the middle of an export: the export is not intact, and nothing after it was checked. */
const unreadable = (err: ExportFormatError): VerificationResult => ({
  valid: false,
  events_checked: 0,
  first_broken_event_id: null,
  reason: `Line ${err.line} of the export is not an exported event: ${err.message.replace(/^line \d+: /, '')}.`,
  checkpoints_checked: 0,
  latest_checkpoint: null,
  unsigned_events: 0,
});

const CHUNK = 1 << 16;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Chunk {
  chains: Uint32Array;
  seqs: Float64Array;
  /** prev_hash then hash, 32 bytes each. */
  hashes: Buffer;
  /** A lowercase UUID's 16 bytes, when packed. */
  ids: Buffer;
  packed: Uint8Array;
  ok: Uint8Array;
}

/**
 * The fields the verifier needs of every event, packed in chunks of typed arrays (no object per event, no
 * copying to grow), so that an export of millions of events is sorted in memory without its JSON text.
 */
export class RowTable {
  private readonly chunks: Chunk[] = [];
  private readonly chainNames: string[] = [];
  private readonly chainIndex = new Map<string, number>();
  private readonly otherIds = new Map<number, string>();
  private sorted = true;
  length = 0;

  add(id: string, chain: string, seq: number, prevHash: string, hash: string, contentOk: boolean): void {
    const i = this.length;
    const offset = i & (CHUNK - 1);
    if (offset === 0) this.chunks.push(newChunk());
    const c = this.chunks[i >>> 16];
    let chainNo = this.chainIndex.get(chain);
    if (chainNo === undefined) {
      chainNo = this.chainNames.length;
      this.chainNames.push(chain);
      this.chainIndex.set(chain, chainNo);
    }
    c.chains[offset] = chainNo;
    c.seqs[offset] = seq;
    c.hashes.write(prevHash, offset * 64, 32, 'hex');
    c.hashes.write(hash, offset * 64 + 32, 32, 'hex');
    if (UUID.test(id)) {
      c.ids.write(id.replace(/-/g, ''), offset * 16, 16, 'hex');
      c.packed[offset] = 1;
    } else this.otherIds.set(i, id);
    c.ok[offset] = contentOk ? 1 : 0;
    if (this.sorted && i > 0 && this.compare(i - 1, i) > 0) this.sorted = false;
    this.length = i + 1;
  }

  idAt(i: number): string {
    const c = this.chunks[i >>> 16];
    const offset = i & (CHUNK - 1);
    if (!c.packed[offset]) return this.otherIds.get(i) as string;
    const hex = c.ids.toString('hex', offset * 16, offset * 16 + 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Pushes every row into `verifier` in (chain, seq, id) order; stops at the first problem. */
  pushSorted(verifier: ChainVerifier): void {
    const order = new Uint32Array(this.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (!this.sorted) order.sort((a, b) => this.compare(a, b));
    const row: VerifiedRow = { id: '', chain: '', seq: 0, prevHash: '', hash: '', contentOk: false };
    for (const i of order) {
      const c = this.chunks[i >>> 16];
      const offset = i & (CHUNK - 1);
      // One object, refilled: the verifier keeps values, never the row.
      row.id = this.idAt(i);
      row.chain = this.chainNames[c.chains[offset]];
      row.seq = c.seqs[offset];
      row.prevHash = c.hashes.toString('hex', offset * 64, offset * 64 + 32);
      row.hash = c.hashes.toString('hex', offset * 64 + 32, offset * 64 + 64);
      row.contentOk = c.ok[offset] === 1;
      verifier.push(row);
      if (verifier.broken) break;
    }
  }

  private compare(a: number, b: number): number {
    const ca = this.chunks[a >>> 16];
    const cb = this.chunks[b >>> 16];
    const oa = a & (CHUNK - 1);
    const ob = b & (CHUNK - 1);
    const chainA = ca.chains[oa];
    const chainB = cb.chains[ob];
    if (chainA !== chainB) return this.chainNames[chainA] < this.chainNames[chainB] ? -1 : 1;
    const bySeq = ca.seqs[oa] - cb.seqs[ob];
    if (bySeq !== 0) return bySeq;
    const idA = this.idAt(a);
    const idB = this.idAt(b);
    return idA < idB ? -1 : idA > idB ? 1 : 0;
  }
}

const newChunk = (): Chunk => ({
  chains: new Uint32Array(CHUNK),
  seqs: new Float64Array(CHUNK),
  hashes: Buffer.alloc(CHUNK * 64),
  ids: Buffer.alloc(CHUNK * 16),
  packed: new Uint8Array(CHUNK),
  ok: new Uint8Array(CHUNK),
});

const MEMBER_START = Buffer.from(',"audit_chain":{');
const CHECKPOINT_BYTES = Buffer.from(CHECKPOINT_TYPE);

/**
 * The lines of a JSONL stream as bytes (CR before LF dropped, blank lines skipped), each handed to `onLine` with
 * its number. Bytes, not strings: the event text is hashed as it was read, never decoded (decoding every line to
 * a string and splitting it cost more than the hashing: GC and readline were a third of the time).
 */
async function readJsonlBytes(source: Readable, onLine: (line: Buffer, lineNumber: number) => void): Promise<void> {
  let partial: Buffer | null = null;
  let lineNumber = 0;
  const emit = (line: Buffer) => {
    lineNumber++;
    let end = line.length;
    if (end > 0 && line[end - 1] === 13) end--;
    let first = 0;
    while (first < end && (line[first] === 32 || line[first] === 9 || line[first] === 13)) first++;
    if (first === end) return;
    onLine(end === line.length ? line : line.subarray(0, end), lineNumber);
  };
  for await (const piece of source as AsyncIterable<Buffer | string>) {
    // A stream with an encoding set (or made from strings) hands out strings.
    const chunk = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    let start = 0;
    let nl = chunk.indexOf(10);
    if (partial && nl !== -1) {
      emit(Buffer.concat([partial, chunk.subarray(0, nl)]));
      partial = null;
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    for (; nl !== -1; nl = chunk.indexOf(10, start)) {
      emit(chunk.subarray(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length)
      partial = partial ? Buffer.concat([partial, chunk.subarray(start)]) : chunk.subarray(start);
  }
  if (partial) emit(partial);
}

/**
 * One JSONL line as jsonlLine writes it, taken straight from its bytes: the member parsed, the text before it
 * hashed with the closing brace put back. False for any other line (the caller parses it).
 */
function takeJsonlLine(line: Buffer, table: RowTable, checkpoints: SignedCheckpoint[] | null): boolean {
  const at = line.lastIndexOf(MEMBER_START);
  if (at <= 0) return false;
  const member = parseChainMember(line.toString('utf8', at));
  const id = member ? leadingId(line.toString('utf8', 0, Math.min(at, 256))) : undefined;
  if (!member || id === undefined) return false;
  // One buffer hashed at once (prev_hash, position, text, closing brace): a Hash object and four updates per event
  // cost more than copying the ~1 KB of text.
  const input = Buffer.allocUnsafe(40 + at + 1);
  input.write(member.prevHash, 0, 32, 'hex');
  input.writeBigUInt64BE(BigInt(member.seq), 32);
  line.copy(input, 40, 0, at);
  input[40 + at] = 0x7d; // }
  const hash = hashOnce('sha256', input, 'hex');
  table.add(id, member.chain, member.seq, member.prevHash, member.hash, hash === member.hash);
  if (checkpoints && line.indexOf(CHECKPOINT_BYTES) !== -1) {
    const checkpoint = checkpointOf(parseJsonlLine(line.toString('utf8')).event);
    if (checkpoint) checkpoints.push(checkpoint);
  }
  return true;
}
