import { Inject, Injectable } from '@nestjs/common';
import { ChainVerifier, VerificationResult } from '@audit/audit-chain';
import { APP_CONFIG, Database, TooManyRequestsError } from '@audit/platform';
import type { AuditRecorderConfig } from '../config';
import { ChainRowRecord, IntegrityRepository } from './integrity.repository';

/** Rows per query: large enough that round trips do not count, small enough to hold a few MB. */
const BATCH = 20_000;

const ROW_COLUMNS = `id, chain_id, chain_seq, encode(prev_hash, 'hex') as prev_hash, encode(hash, 'hex') as hash,
  sha256(prev_hash || int8send(chain_seq) || convert_to(payload::text, 'UTF8')) = hash as content_ok`;

/** Inclusive bounds of created_at; none: the whole log. */
export interface VerificationWindow {
  createdAfter?: string;
  createdBefore?: string;
}

/**
 * Online verification (docs/architecture.md, "Integrity: verification"). PostgreSQL recomputes each stored
 * event's hash from its stored text (the payload never leaves the database: 5 short fields per row come back),
 * and ChainVerifier, the same code as the offline `npm run audit:verify`, checks the links between events, the
 * gaps against signed purges, and the chain heads against every checkpoint, whose signatures and order it checks
 * first. With a window, each chain is walked from the first to the last of its events created in the window,
 * taking the first as anchor: what is checked is consistency there, not the whole log.
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
      const windowed = window.createdAfter !== undefined || window.createdBefore !== undefined;
      const verifier = new ChainVerifier({
        checkpoints,
        publicKey: this.config.verifyKeys,
        mode: windowed ? 'window' : 'full',
      });
      const ranges = windowed ? await this.chainRanges(window) : [{ chain: null, from: 0, to: 0 }];
      for (const range of ranges) {
        for await (const rows of this.rows(range.chain, range.from, range.to)) {
          for (const r of rows) {
            verifier.push({
              id: r.id,
              chain: r.chain_id,
              seq: Number(r.chain_seq),
              prevHash: r.prev_hash,
              hash: r.hash,
              contentOk: r.content_ok,
            });
          }
        }
      }
      return verifier.result();
    } finally {
      this.busy = false;
    }
  }

  /** Per chain, the positions of its first and last events created in the window. */
  private async chainRanges(window: VerificationWindow): Promise<Array<{ chain: string; from: number; to: number }>> {
    const rows = await this.database.autocommit.query<{ chain_id: string; first: string; last: string }>(
      `select chain_id, min(chain_seq) as first, max(chain_seq) as last from audit_events
        where ($1::timestamptz is null or created_at >= $1) and ($2::timestamptz is null or created_at <= $2)
        group by chain_id order by chain_id`,
      [window.createdAfter ?? null, window.createdBefore ?? null],
    );
    return rows.map((r) => ({ chain: r.chain_id, from: Number(r.first), to: Number(r.last) }));
  }

  /** Rows in (chain, seq, id) order, in keyset batches: all of them (chain null), or one chain's positions from..to. */
  private async *rows(chain: string | null, from: number, to: number): AsyncGenerator<ChainRowRecord[]> {
    let after: { chain: string; seq: string; id: string } | null = null;
    for (;;) {
      const params: unknown[] = [BATCH];
      let where = 'true';
      if (chain !== null) {
        params.push(chain, from, to);
        where = 'chain_id = $2 and chain_seq between $3 and $4';
      }
      if (after) {
        params.push(after.chain, after.seq, after.id);
        const n = params.length;
        where += ` and (chain_id, chain_seq, id) > ($${n - 2}, $${n - 1}::bigint, $${n}::uuid)`;
      }
      const rows: ChainRowRecord[] = await this.database.autocommit.query<ChainRowRecord>(
        `select ${ROW_COLUMNS} from audit_events where ${where} order by chain_id, chain_seq, id limit $1`,
        params,
      );
      if (rows.length > 0) yield rows;
      if (rows.length < BATCH) return;
      const last = rows[rows.length - 1];
      after = { chain: last.chain_id, seq: last.chain_seq, id: last.id };
    }
  }
}
