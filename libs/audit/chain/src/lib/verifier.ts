import { KeyObject } from 'node:crypto';
import { genesisHash, mergePurgedRanges, PurgedRange } from './chain-hash';
import {
  CheckpointBody,
  checkpointDigest,
  checkpointSignatureValid,
  keyIdOf,
  parseCheckpointBody,
  SignedCheckpoint,
} from './checkpoint';

/*
 * Verification of stored or exported audit events against their hash chains and the signed checkpoints
 * (docs/architecture.md, "Integrity"). One engine for the online API (rows read from PostgreSQL in chain order)
 * and the offline CLI (rows read from an export and sorted): the caller computes each row's content check
 * (`contentOk`: the row's own hash over its prev_hash, seq and JSON text) and pushes the rows in (chain, seq, id)
 * order; the verifier checks how they link to each other, to the purged ranges and to the checkpoints' heads,
 * and reports the first problem.
 *
 * Who is blamed. A chain proves that a row was not changed after its successor was appended, and a checkpoint
 * proves the rows up to the head it signed; neither says what the original of a changed row was. So:
 * - a row whose hash does not cover its content was changed (and not re-hashed): that row;
 * - a row that no longer links to its predecessor, both being self-consistent: the PREDECESSOR. Editing an event
 *   and recomputing its hash is the one change that leaves a row self-consistent, and it breaks exactly the next
 *   row's link; editing the successor's prev_hash instead (and re-hashing it) gains an attacker nothing. When the
 *   predecessor's hash is the one a checkpoint signed it is known good, and the row itself is blamed;
 * - a chain re-hashed consistently from some row on links perfectly: only a checkpoint head catches it, and the
 *   changed row is somewhere after the last head that matched, so the first row after that head is reported;
 * - a missing position (a deletion) that no purge accounts for: the row after the gap; missing rows at the end
 *   of a chain that a checkpoint signed: no row (first_broken_event_id null), the reason names the positions;
 * - two rows at one position (an insertion): the one the next row does not link to (decided one row later),
 *   or, with no next row, the one that sorts second.
 */

/** One stored or exported event, as the verifier needs it; hashes in lowercase hex. */
export interface VerifiedRow {
  id: string;
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
  /** Whether `hash` = eventHash(prevHash, seq, the event's JSON text). */
  contentOk: boolean;
}

/** What GET /api/v4/audit_events/verify and `npm run audit:verify` print. */
export interface VerificationResult {
  valid: boolean;
  /** Rows pushed (the caller may stop pushing at the first problem). */
  events_checked: number;
  first_broken_event_id: string | null;
  /** One sentence naming the chain, the position and what is wrong; null when valid. */
  reason: string | null;
  checkpoints_checked: number;
  latest_checkpoint: { sequence: number; created_at: string } | null;
  /** Checked rows after the latest checkpoint's head of their chain (linked, not yet signed); counted up to the first problem. */
  unsigned_events: number;
}

/**
 * `full`: the rows are every stored event of each chain (an unfiltered export, the whole table): a chain must
 * start at position 1 (or right after a purged prefix) and reach the latest checkpoint's head.
 * `window`: a contiguous part of each chain (a date-bounded export, a range of the table): each chain's first
 * row is taken as it is (unless it is position 1, which must link to the genesis hash) and nothing is required
 * after its last row. Gaps inside are deletions in both modes.
 */
export type VerificationMode = 'full' | 'window';

export interface ChainVerifierOptions {
  /** In any order; all of them are checked (signature, key, sequence, linkage, heads never going back). */
  checkpoints: readonly SignedCheckpoint[];
  /**
   * The keys checkpoints may be signed with, found by their key_id: the current signing key's and, after a
   * rotation, the earlier ones. One key or several.
   */
  publicKey: KeyObject | readonly KeyObject[];
  mode: VerificationMode;
}

/** The signed heads of one chain over all checkpoints, by position (parallel arrays: no object per head). */
interface ChainPlan {
  headSeqs: number[];
  headHashes: string[];
  /** The first checkpoint that signed each head. */
  headCheckpoints: number[];
  /** The latest checkpoint's purged ranges of this chain, sorted by `from`. */
  purged: PurgedRange[];
  /** The latest checkpoint's head of this chain; 0 when the chain is in none. */
  latestHead: number;
}

const EMPTY_PLAN: ChainPlan = { headSeqs: [], headHashes: [], headCheckpoints: [], purged: [], latestHead: 0 };
const HEX_HASH = /^[0-9a-f]{64}$/;

interface Failure {
  id: string | null;
  reason: string;
}

/** Checks rows pushed in (chain, seq, id) order; see the file's comment for what is blamed. */
export class ChainVerifier {
  private readonly mode: VerificationMode;
  private readonly plans = new Map<string, ChainPlan>();
  private readonly checkpointCount: number;
  private readonly latest: CheckpointBody | null;
  private failure: Failure | null = null;
  private checked = 0;
  private unsigned = 0;
  private finished: VerificationResult | null = null;
  private readonly seen = new Set<string>();

  // The chain being pushed, and its previous row. Plain fields, no object per row.
  private chain: string | null = null;
  private plan: ChainPlan = EMPTY_PLAN;
  private prevSeq = 0;
  private prevId = '';
  private prevHash = '';
  private prevPrevHash = '';
  private prevSigned = false;
  /** A second row at prevSeq, until the next row tells which of the two is linked to. */
  private dupId: string | null = null;
  private dupHash = '';
  /** Next head of `plan` to compare. */
  private headIdx = 0;
  /** First row after the last head that matched (or the chain's first row): where a head mismatch is reported. */
  private anchorId = '';
  private anchorSeq = 0;
  private anchorPending = false;

  constructor(options: ChainVerifierOptions) {
    this.mode = options.mode;
    const checked = checkCheckpoints(options.checkpoints, options.publicKey, options.mode);
    this.checkpointCount = checked.count;
    this.latest = checked.bodies.length ? checked.bodies[checked.bodies.length - 1] : null;
    if (checked.failure) {
      this.failure = { id: null, reason: checked.failure };
      return;
    }
    this.buildPlans(checked.bodies);
  }

  push(row: VerifiedRow): void {
    this.checked++;
    if (this.failure) return;
    if (this.finished) throw new Error('ChainVerifier: push after result()');
    if (row.chain !== this.chain) this.startChain(row);
    else this.nextRow(row);
    if (!this.failure && row.seq > this.plan.latestHead) this.unsigned++;
  }

  /** Whether a problem was found: pushing more rows changes nothing but events_checked. */
  get broken(): boolean {
    return this.failure !== null;
  }

  result(): VerificationResult {
    if (!this.finished) {
      if (!this.failure) {
        if (this.chain !== null) this.closeChain();
        if (this.mode === 'full') this.checkChainsNeverSeen();
      }
      const failure = this.failure as Failure | null;
      this.finished = {
        valid: failure === null,
        events_checked: this.checked,
        first_broken_event_id: failure?.id ?? null,
        reason: failure?.reason ?? null,
        checkpoints_checked: this.checkpointCount,
        latest_checkpoint: this.latest ? { sequence: this.latest.sequence, created_at: this.latest.created_at } : null,
        unsigned_events: this.unsigned,
      };
    }
    return this.finished;
  }

  private fail(id: string | null, reason: string): void {
    if (!this.failure) this.failure = { id, reason };
  }

  private buildPlans(bodies: CheckpointBody[]): void {
    for (const body of bodies) {
      for (const head of body.chains) {
        let plan = this.plans.get(head.chain);
        if (!plan) {
          plan = { headSeqs: [], headHashes: [], headCheckpoints: [], purged: [], latestHead: 0 };
          this.plans.set(head.chain, plan);
        }
        // Checkpoints are in sequence order and heads never go back (checked), so each list stays sorted;
        // a head unchanged since the previous checkpoint is kept once, under the checkpoint that first signed it.
        if (head.seq > 0 && plan.headSeqs[plan.headSeqs.length - 1] !== head.seq) {
          plan.headSeqs.push(head.seq);
          plan.headHashes.push(head.hash);
          plan.headCheckpoints.push(body.sequence);
        }
      }
    }
    const latest = bodies[bodies.length - 1];
    if (!latest) return;
    for (const head of latest.chains) (this.plans.get(head.chain) as ChainPlan).latestHead = head.seq;
    for (const range of mergePurgedRanges(latest.purged)) {
      let plan = this.plans.get(range.chain);
      if (!plan) {
        plan = { headSeqs: [], headHashes: [], headCheckpoints: [], purged: [], latestHead: 0 };
        this.plans.set(range.chain, plan);
      }
      plan.purged.push(range);
    }
  }

  private startChain(row: VerifiedRow): void {
    if (this.chain !== null) {
      this.closeChain();
      if (this.failure) return;
    }
    if (this.seen.has(row.chain)) {
      throw new Error(`ChainVerifier: rows of chain ${row.chain} were pushed apart; push them in (chain, seq) order`);
    }
    this.seen.add(row.chain);
    const chain = row.chain;
    const plan = this.plans.get(chain) ?? EMPTY_PLAN;
    this.chain = chain;
    this.plan = plan;
    this.headIdx = 0;
    this.dupId = null;
    this.anchorId = row.id;
    this.anchorSeq = row.seq;
    this.anchorPending = false;
    const seq = row.seq;
    if (!row.contentOk) return this.fail(row.id, contentReason(chain, seq));
    if (seq === 1) {
      if (row.prevHash !== genesisHash(chain).toString('hex'))
        return this.fail(
          row.id,
          `The event at position 1 of chain ${chain} does not link to the chain's genesis hash.`,
        );
    } else {
      const range = coveringRange(plan.purged, 1, seq - 1);
      if (range) {
        if (range.to === seq - 1 && row.prevHash !== range.hash)
          return this.fail(row.id, purgeLinkReason(chain, seq, range));
      } else if (this.mode === 'full') {
        return this.fail(
          row.id,
          `Chain ${chain} starts at position ${seq}: ${positions(1, seq - 1, 'is', 'are')} missing and no purge removed them.`,
        );
      } else {
        // A window may start anywhere; where a purge ended right before it, the link is still checked.
        const before = coveringRange(plan.purged, seq - 1, seq - 1);
        if (before && before.to === seq - 1 && row.prevHash !== before.hash)
          return this.fail(row.id, purgeLinkReason(chain, seq, before));
      }
    }
    this.checkHeads(row);
    this.remember(row);
  }

  private nextRow(row: VerifiedRow): void {
    const seq = row.seq;
    const chain = row.chain;
    if (this.dupId !== null && seq !== this.prevSeq) {
      // Two rows at prevSeq: the one this row links to is the original, the other was inserted.
      const next = row.contentOk && seq === this.prevSeq + 1;
      return this.fail(
        next && row.prevHash === this.dupHash ? this.prevId : this.dupId,
        insertedReason(chain, this.prevSeq),
      );
    }
    if (!row.contentOk) return this.fail(row.id, contentReason(chain, seq));
    if (seq === this.prevSeq) return this.duplicate(row);
    if (seq < this.prevSeq)
      return this.fail(row.id, `The event at position ${seq} of chain ${chain} comes after position ${this.prevSeq}.`);
    if (seq === this.prevSeq + 1) {
      if (row.prevHash !== this.prevHash) {
        if (this.prevSigned)
          return this.fail(
            row.id,
            `The event at position ${seq} of chain ${chain} does not link to its predecessor, whose hash a checkpoint signed.`,
          );
        return this.fail(
          this.prevId,
          `The event at position ${this.prevSeq} of chain ${chain} was changed and re-hashed: the next event does not link to it.`,
        );
      }
    } else {
      const range = coveringRange(this.plan.purged, this.prevSeq + 1, seq - 1);
      if (!range)
        return this.fail(
          row.id,
          `${capitalised(positions(this.prevSeq + 1, seq - 1))} of chain ${chain} ${this.prevSeq + 2 === seq ? 'is' : 'are'} missing and no purge removed ${this.prevSeq + 2 === seq ? 'it' : 'them'} (deleted before position ${seq}).`,
        );
      if (range.to === seq - 1 && row.prevHash !== range.hash)
        return this.fail(row.id, purgeLinkReason(chain, seq, range));
    }
    this.checkHeads(row);
    this.remember(row);
  }

  private duplicate(row: VerifiedRow): void {
    const chain = row.chain;
    // The original of the two links to what the first one linked to (prevPrevHash, already checked) and, unless
    // it is the chain's last row, is what the next row links to; a checkpoint's head at the position settles it.
    if (this.dupId !== null || this.prevSigned || row.prevHash !== this.prevPrevHash)
      return this.fail(row.id, insertedReason(chain, row.seq));
    this.dupId = row.id;
    this.dupHash = row.hash;
  }

  private remember(row: VerifiedRow): void {
    this.prevSeq = row.seq;
    this.prevId = row.id;
    this.prevPrevHash = row.prevHash;
    this.prevHash = row.hash;
  }

  /** Compares the row with the heads signed at its position; heads at positions not pushed are skipped. */
  private checkHeads(row: VerifiedRow): void {
    const plan = this.plan;
    const seqs = plan.headSeqs;
    if (this.anchorPending) {
      this.anchorId = row.id;
      this.anchorSeq = row.seq;
      this.anchorPending = false;
    }
    let i = this.headIdx;
    while (i < seqs.length && seqs[i] < row.seq) i++;
    this.prevSigned = false;
    if (i < seqs.length && seqs[i] === row.seq) {
      if (plan.headHashes[i] !== row.hash) {
        const which =
          this.anchorSeq === row.seq
            ? `the event at position ${row.seq} was changed and re-hashed`
            : `an event between positions ${this.anchorSeq} and ${row.seq} was changed and the chain re-hashed after it`;
        this.fail(
          this.anchorId,
          `Checkpoint ${plan.headCheckpoints[i]} signed another hash for position ${row.seq} of chain ${row.chain}: ${which}.`,
        );
        return;
      }
      this.prevSigned = true;
      this.anchorPending = true;
      i++;
    }
    this.headIdx = i;
  }

  private closeChain(): void {
    const chain = this.chain as string;
    if (this.dupId !== null) return this.fail(this.dupId, insertedReason(chain, this.prevSeq));
    if (this.mode !== 'full') return;
    const head = this.plan.latestHead;
    if (this.prevSeq < head && !coveringRange(this.plan.purged, this.prevSeq + 1, head)) {
      this.fail(
        null,
        `Chain ${chain} ends at position ${this.prevSeq}, but checkpoint ${this.latest?.sequence} signed it up to position ${head}: ${positions(this.prevSeq + 1, head, 'was', 'were')} deleted.`,
      );
    }
  }

  /** Full mode: a chain the latest checkpoint names must be present, unless purged up to its head. */
  private checkChainsNeverSeen(): void {
    const names = [...this.plans.keys()].filter((c) => !this.seen.has(c)).sort();
    for (const chain of names) {
      const plan = this.plans.get(chain) as ChainPlan;
      if (plan.latestHead > 0 && !coveringRange(plan.purged, 1, plan.latestHead)) {
        return this.fail(
          null,
          `Checkpoint ${this.latest?.sequence} signed chain ${chain} up to position ${plan.latestHead}, but none of its events are present.`,
        );
      }
    }
  }
}

const contentReason = (chain: string, seq: number) =>
  `The event at position ${seq} of chain ${chain} does not match its hash: its content was changed.`;
const insertedReason = (chain: string, seq: number) =>
  `Chain ${chain} has a second event at position ${seq}: it was inserted.`;
const purgeLinkReason = (chain: string, seq: number, range: PurgedRange) =>
  `The event at position ${seq} of chain ${chain} does not link to the last hash of the purged positions ${range.from} to ${range.to}.`;
/** "position 3", "positions 3 to 5", with the verb that agrees when one is given. */
const positions = (from: number, to: number, one = '', many = '') =>
  from === to ? `position ${from}${one && ` ${one}`}` : `positions ${from} to ${to}${many && ` ${many}`}`;
const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The purged range (merged, sorted by `from`) that holds all of from..to, if any. */
function coveringRange(ranges: readonly PurgedRange[], from: number, to: number): PurgedRange | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  let found: PurgedRange | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid].from <= from) {
      found = ranges[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found && found.to >= to ? found : undefined;
}

interface CheckedCheckpoints {
  bodies: CheckpointBody[];
  count: number;
  failure: string | null;
}

/**
 * The checkpoints, sorted by sequence, each checked: its text is a checkpoint, signed with `publicKey`, the
 * sequences follow each other, each links to the previous one's text, and no chain's head goes back.
 * Identical copies (an export and an API answer may both carry one) count once.
 */
function checkCheckpoints(
  checkpoints: readonly SignedCheckpoint[],
  publicKeys: KeyObject | readonly KeyObject[],
  mode: VerificationMode,
): CheckedCheckpoints {
  const keys = new Map(
    (Array.isArray(publicKeys) ? (publicKeys as readonly KeyObject[]) : [publicKeys as KeyObject]).map((k) => [
      keyIdOf(k),
      k,
    ]),
  );
  const keyIds = [...keys.keys()].join(', ');
  const byText = new Map<string, { body: CheckpointBody; signed: SignedCheckpoint }>();
  for (const [index, signed] of checkpoints.entries()) {
    const known = byText.get(signed.body);
    if (known && known.signed.signature === signed.signature) continue;
    const body = typeof signed.body === 'string' ? parseCheckpointBody(signed.body) : null;
    if (!body || !wellFormed(body))
      return { bodies: [], count: index + 1, failure: `Checkpoint ${index + 1} of those given is not a checkpoint.` };
    if (known) return fail([], 1, `Checkpoint ${body.sequence} is given twice with different signatures.`);
    byText.set(signed.body, { body, signed });
  }
  const list = [...byText.values()].sort((a, b) => a.body.sequence - b.body.sequence);
  const bodies = list.map((c) => c.body);
  const latest = bodies[bodies.length - 1];
  for (let i = 0; i < list.length; i++) {
    const { body, signed } = list[i];
    const n = body.sequence;
    // The latest checkpoint reported is the last one that passed, never one that failed.
    const fails = (reason: string) => fail(bodies.slice(0, i), i + 1, reason);
    const publicKey = keys.get(body.key_id);
    if (!publicKey)
      return fails(`Checkpoint ${n} was signed with another key (key_id ${body.key_id}, expected ${keyIds}).`);
    if (!checkpointSignatureValid(signed, publicKey))
      return fails(`Checkpoint ${n} does not match its signature: its text was changed or it was forged.`);
    const previous = list[i - 1]?.body;
    if (!previous) {
      // After a purge an export no longer holds the checkpoint events of the purged months, and a window starts
      // anywhere; otherwise the first checkpoint is number 1.
      if (n === 1 ? body.previous !== null : mode === 'full' && latest.purged.length === 0)
        return fails(
          n === 1
            ? 'Checkpoint 1 names a previous checkpoint.'
            : `Checkpoint ${n} is the first one given: ${n === 2 ? 'checkpoint 1 is' : `checkpoints 1 to ${n - 1} are`} missing.`,
        );
      continue;
    }
    if (n === previous.sequence) return fails(`Two different checkpoints have sequence ${n}.`);
    if (n !== previous.sequence + 1)
      return fails(
        `${n - previous.sequence === 2 ? `Checkpoint ${previous.sequence + 1} is` : `Checkpoints ${previous.sequence + 1} to ${n - 1} are`} missing (between checkpoints ${previous.sequence} and ${n}).`,
      );
    if (body.previous !== checkpointDigest(list[i - 1].signed.body))
      return fails(`Checkpoint ${n} does not link to checkpoint ${previous.sequence}: one of them was replaced.`);
    const heads = new Map(body.chains.map((h) => [h.chain, h]));
    for (const before of previous.chains) {
      const now = heads.get(before.chain);
      if (!now || now.seq < before.seq)
        return fails(
          `Checkpoint ${n} moves chain ${before.chain} back from position ${before.seq} to ${now ? now.seq : 'nothing'}.`,
        );
      if (now.seq === before.seq && now.hash !== before.hash)
        return fails(
          `Checkpoint ${n} signs another hash than checkpoint ${previous.sequence} for position ${now.seq} of chain ${now.chain}.`,
        );
    }
  }
  return { bodies, count: list.length, failure: null };
}

const fail = (bodies: CheckpointBody[], count: number, failure: string): CheckedCheckpoints => ({
  bodies,
  count,
  failure,
});

/** The heads and ranges a signed body holds are used as numbers and hex: a body with anything else is refused. */
function wellFormed(body: CheckpointBody): boolean {
  const position = (n: unknown, min: number) => Number.isSafeInteger(n) && (n as number) >= min;
  return (
    body.sequence >= 1 &&
    body.chains.every((h) => typeof h?.chain === 'string' && position(h.seq, 0) && HEX_HASH.test(h.hash)) &&
    body.purged.every(
      (r) => typeof r?.chain === 'string' && position(r.from, 1) && position(r.to, r.from) && HEX_HASH.test(r.hash),
    )
  );
}
