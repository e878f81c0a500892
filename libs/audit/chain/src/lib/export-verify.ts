import { KeyObject } from 'node:crypto';
import { Readable } from 'node:stream';
import { SignedCheckpoint } from './checkpoint';
import {
  checkpointOf,
  contentMatches,
  ExportedEvent,
  ExportFormatError,
  readCsvExport,
  readJsonlExport,
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
  const events = options.format === 'csv' ? readCsvExport(source) : readJsonlExport(source);
  try {
    for await (const exported of events as AsyncIterable<ExportedEvent>) {
      const { row } = exported;
      table.add(row.id, row.chain, row.seq, row.prevHash, row.hash, contentMatches(row));
      // Only a checkpoint's line is parsed (ExportedEvent.event is lazy for JSONL).
      const checkpoint =
        options.checkpoints || !row.text.includes(CHECKPOINT_TYPE) ? null : checkpointOf(exported.event);
      if (checkpoint) found.push(checkpoint);
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
