import { createHash } from 'node:crypto';

/*
 * The hash chain over stored audit events (docs/architecture.md, "Integrity: the hash chain").
 *
 * One chain per partition of the topic the recorder consumes, named `<topic>/<partition>`: a partition is
 * consumed by one recorder at a time, in order, so its chain grows without coordination between partitions
 * (the recorder's throughput scales with partitions as before). Every stored event gets the next position
 * (`seq`, from 1) of its chain and
 *
 *   hash = SHA-256( prev_hash (32 bytes) || seq (8 bytes, big-endian) || the event's JSON text (UTF-8) )
 *
 * where prev_hash is the previous event's hash, or the chain's genesis hash for seq 1. The JSON text is the
 * `payload` column exactly as stored (PostgreSQL's `json` keeps its text): the recorder's JSON.stringify of
 * the audit event, whose key order is the mapping's. Verifiers hash that text; re-serialising a parsed event
 * with JSON.stringify gives the same text back.
 */

export const HASH_BYTES = 32;

/** `<topic>/<partition>`: the chain of the events consumed from that partition. */
export const chainName = (topic: string, partition: number): string => `${topic}/${partition}`;

/** What seq 1 of `chain` links to: binds the chain's first event to the chain's name. */
export const genesisHash = (chain: string): Buffer =>
  createHash('sha256').update(`audit-chain v1 genesis ${chain}`, 'utf8').digest();

const seqBytes = (seq: number): Buffer => {
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeBigUInt64BE(BigInt(seq));
  return bytes;
};

/** The hash of the event at `seq` whose predecessor's hash is `prevHash`; `json` is its stored JSON text. */
export function eventHash(prevHash: Buffer, seq: number, json: string | Buffer): Buffer {
  return createHash('sha256').update(prevHash).update(seqBytes(seq)).update(json).digest();
}

/** The last link of a chain: its position and hash (hex). seq 0 with the genesis hash: an empty chain. */
export interface ChainHead {
  chain: string;
  seq: number;
  hash: string;
}

export const emptyHead = (chain: string): ChainHead => ({ chain, seq: 0, hash: genesisHash(chain).toString('hex') });

/** One appended link: the event's position, its predecessor's hash and its own. */
export interface ChainLink {
  seq: number;
  prevHash: Buffer;
  hash: Buffer;
}

/** Links `jsonTexts` (in order) after `head`; returns the links and the new head. */
export function linkEvents(head: ChainHead, jsonTexts: readonly string[]): { links: ChainLink[]; head: ChainHead } {
  let prev = Buffer.from(head.hash, 'hex');
  let seq = head.seq;
  const links = jsonTexts.map((json) => {
    seq += 1;
    const hash = eventHash(prev, seq, json);
    const link = { seq, prevHash: prev, hash };
    prev = hash;
    return link;
  });
  return { links, head: { chain: head.chain, seq, hash: prev.toString('hex') } };
}

/**
 * Events a purge removed from one chain: positions `from`..`to` (inclusive) and the hash at `to`, which the
 * next surviving event's prev_hash must equal. Signed in every checkpoint after the purge (merged), so a
 * verifier tells a purge from a deletion.
 */
export interface PurgedRange {
  chain: string;
  from: number;
  to: number;
  hash: string;
}

/** Merges ranges that touch (to + 1 = from) per chain, keeping the later range's hash; sorted by chain, from. */
export function mergePurgedRanges(ranges: readonly PurgedRange[]): PurgedRange[] {
  const sorted = [...ranges].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : a.from - b.from));
  const merged: PurgedRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && last.chain === range.chain && range.from <= last.to + 1) {
      if (range.to > last.to) merged[merged.length - 1] = { ...last, to: range.to, hash: range.hash };
    } else merged.push({ ...range });
  }
  return merged;
}
