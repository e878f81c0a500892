import { Inject, Injectable } from '@nestjs/common';
import { ChainVerifier, VerificationResult } from '@audit/audit-chain';
import { APP_CONFIG, Database, TooManyRequestsError } from '@audit/platform';
import type { AuditRecorderConfig } from '../config';
import { IntegrityRepository } from './integrity.repository';

/** Rows per query: large enough that round trips do not count, small enough to hold a few MB. */
const BATCH = 20_000;

/** The links of a chain, from the covering index audit_events_chain alone (an index-only scan). */
const LINK_COLUMNS = `id, chain_id, chain_seq, encode(prev_hash, 'hex') as prev_hash, encode(hash, 'hex') as hash`;
/** An event whose stored text does not hash to its stored hash, computed by PostgreSQL. */
const CONTENT_BROKEN = `sha256(prev_hash || int8send(chain_seq) || convert_to(payload::text, 'UTF8')) <> hash`;

/** Inclusive bounds of created_at; none: the whole log. */
export interface VerificationWindow {
  createdAfter?: string;
  createdBefore?: string;
}

/** One event's link, as audit_events_chain holds it (hashes in hex). */
interface LinkRecord {
  id: string;
  chain_id: string;
  chain_seq: string;
  prev_hash: string;
  hash: string;
}

/**
 * Online verification (docs/architecture.md, "Integrity: verification"), in two passes over what was stored when
 * it started (the chain heads read first):
 * 1. PostgreSQL hashes every event's stored text in one sequential scan and returns the events whose hash does
 *    not match (none, in an intact log): the payloads never leave the database;
 * 2. the links of each chain are read in order from the covering index audit_events_chain (no table access) and
 *    fed to ChainVerifier, the same code as the offline `npm run audit:verify`, which checks the links, the gaps
 *    against signed purges, and the chain heads against every checkpoint, whose signatures and order it checks
 *    first.
 * Reading the rows themselves in chain order cost a random table access per event: ~100,000 events/s against
 * ~800,000/s for the sequential hash scan. With a window, each chain is walked from the first to the last of its
 * events created in the window, taking the first as anchor: consistency there, not the whole log.
 */
@Injectable()
export class VerificationService {
  private busy = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditRecorderConfig,
    private readonly database: Database,
    private readonly integrity: IntegrityRepository,
  ) {}

  async verify(window: VerificationWindow = {}): Promise<VerificationResult> {
    // A full verification reads the whole log: one at a time per instance.
    if (this.busy)
      throw new TooManyRequestsError('A verification is running on this instance; try again when it ends', 30);
    this.busy = true;
    try {
      const checkpoints = await this.integrity.checkpoints({});
      const heads = new Map((await this.integrity.heads()).map((h) => [h.chain, h.seq]));
      const windowed = window.createdAfter !== undefined || window.createdBefore !== undefined;
      const verifier = new ChainVerifier({
        checkpoints,
        publicKey: this.config.verifyKeys,
        mode: windowed ? 'window' : 'full',
      });
      const ranges = windowed ? await this.chainRanges(window) : [null];
      const broken = await this.contentBroken(ranges);
      for (const range of ranges) {
        for await (const rows of this.links(range)) {
          for (const r of rows) {
            const seq = Number(r.chain_seq);
            // Appended after the verification started: not hashed by pass 1, and beyond what it verifies.
            if (seq > (heads.get(r.chain_id) ?? Infinity)) continue;
            verifier.push({
              id: r.id,
              chain: r.chain_id,
              seq,
              prevHash: r.prev_hash,
              hash: r.hash,
              contentOk: !broken.has(r.id),
            });
          }
        }
      }
      return verifier.result();
    } finally {
      this.busy = false;
    }
  }

  /** Pass 1: the ids of the events (all, or those of the ranges) whose stored text does not hash to their hash. */
  private async contentBroken(ranges: Array<ChainRange | null>): Promise<Set<string>> {
    const broken = new Set<string>();
    for (const range of ranges) {
      const rows = range
        ? await this.database.autocommit.query<{ id: string }>(
            `select id from audit_events where chain_id = $1 and chain_seq between $2 and $3 and ${CONTENT_BROKEN}`,
            [range.chain, range.from, range.to],
          )
        : await this.database.autocommit.query<{ id: string }>(`select id from audit_events where ${CONTENT_BROKEN}`);
      for (const r of rows) broken.add(r.id);
    }
    return broken;
  }

  /** Per chain, the positions of its first and last events created in the window. */
  private async chainRanges(window: VerificationWindow): Promise<ChainRange[]> {
    const rows = await this.database.autocommit.query<{ chain_id: string; first: string; last: string }>(
      `select chain_id, min(chain_seq) as first, max(chain_seq) as last from audit_events
        where ($1::timestamptz is null or created_at >= $1) and ($2::timestamptz is null or created_at <= $2)
        group by chain_id order by chain_id`,
      [window.createdAfter ?? null, window.createdBefore ?? null],
    );
    return rows.map((r) => ({ chain: r.chain_id, from: Number(r.first), to: Number(r.last) }));
  }

  /** Pass 2: links in (chain, seq, id) order, in keyset batches: all of them, or one chain's positions from..to. */
  private async *links(range: ChainRange | null): AsyncGenerator<LinkRecord[]> {
    let after: { chain: string; seq: string; id: string } | null = null;
    for (;;) {
      const params: unknown[] = [BATCH];
      let where = 'true';
      if (range) {
        params.push(range.chain, range.from, range.to);
        where = 'chain_id = $2 and chain_seq between $3 and $4';
      }
      if (after) {
        params.push(after.chain, after.seq, after.id);
        const n = params.length;
        where += ` and (chain_id, chain_seq, id) > ($${n - 2}, $${n - 1}::bigint, $${n}::uuid)`;
      }
      const rows: LinkRecord[] = await this.database.autocommit.query<LinkRecord>(
        `select ${LINK_COLUMNS} from audit_events where ${where} order by chain_id, chain_seq, id limit $1`,
        params,
      );
      if (rows.length > 0) yield rows;
      if (rows.length < BATCH) return;
      const last = rows[rows.length - 1];
      after = { chain: last.chain_id, seq: last.chain_seq, id: last.id };
    }
  }
}

interface ChainRange {
  chain: string;
  from: number;
  to: number;
}
