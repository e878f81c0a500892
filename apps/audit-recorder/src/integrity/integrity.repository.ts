import { Injectable } from '@nestjs/common';
import { ChainHead, LogFileDigest, mergePurgedRanges, PurgedRange, SignedCheckpoint } from '@audit/audit-chain';
import { Database } from '@audit/platform';
import { Sql } from '@audit/sql';

/** A stored checkpoint: the signed text and signature, and the columns it is found by. */
export interface StoredCheckpoint extends SignedCheckpoint {
  sequence: number;
  id: string;
  created_at: string;
  reason: string;
  key_id: string;
}

/** What one purge dropped, as audit_events_purge recorded it. */
export interface PurgeRecord {
  id: string;
  purged_at: string;
  before_month: string;
  months: string[];
  events: number;
  counts: Record<string, number>;
  ranges: PurgedRange[];
  heads: ChainHead[];
}

const CHECKPOINT_COLUMNS = `sequence::int as sequence, id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at,
  reason, key_id, body, signature`;

/** The integrity tables: chain heads, checkpoints, purges and closed JSON log files. */
@Injectable()
export class IntegrityRepository {
  constructor(private readonly database: Database) {}

  async heads(sql: Sql = this.database.autocommit): Promise<ChainHead[]> {
    const rows = await sql.query<{ chain: string; seq: string; hash: string }>(
      `select chain, seq, encode(hash, 'hex') as hash from audit_chain_heads where seq > 0 order by chain collate "C"`,
    );
    return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.hash }));
  }

  async latestCheckpoint(sql: Sql = this.database.autocommit): Promise<StoredCheckpoint | null> {
    const [row] = await sql.query<StoredCheckpoint>(
      `select ${CHECKPOINT_COLUMNS} from audit_checkpoints order by sequence desc limit 1`,
    );
    return row ?? null;
  }

  /** Checkpoints in sequence order, `limit` from after `afterSequence`; `createdAfter/Before` bound created_at. */
  async checkpoints(options: {
    afterSequence?: number;
    limit?: number;
    createdAfter?: string;
    createdBefore?: string;
  }): Promise<StoredCheckpoint[]> {
    return this.database.autocommit.query<StoredCheckpoint>(
      `select ${CHECKPOINT_COLUMNS} from audit_checkpoints
        where ($1::bigint is null or sequence > $1)
          and ($3::timestamptz is null or created_at >= $3) and ($4::timestamptz is null or created_at <= $4)
        order by sequence limit $2`,
      [
        options.afterSequence ?? null,
        options.limit ?? 1_000_000,
        options.createdAfter ?? null,
        options.createdBefore ?? null,
      ],
    );
  }

  async insertCheckpoint(sql: Sql, checkpoint: StoredCheckpoint): Promise<void> {
    await sql.query(
      `insert into audit_checkpoints (sequence, id, created_at, reason, key_id, body, signature) values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        checkpoint.sequence,
        checkpoint.id,
        checkpoint.created_at,
        checkpoint.reason,
        checkpoint.key_id,
        checkpoint.body,
        checkpoint.signature,
      ],
    );
  }

  /** Every purge's ranges, merged: what the next checkpoint signs as removed. */
  async purgedRanges(sql: Sql = this.database.autocommit): Promise<PurgedRange[]> {
    const rows = await sql.query<{ ranges: PurgedRange[] }>('select ranges from audit_purges order by purged_at');
    return mergePurgedRanges(rows.flatMap((r) => r.ranges));
  }

  async purge(sql: Sql, id: string): Promise<PurgeRecord> {
    const [row] = await sql.query<PurgeRecord & { events: string }>(
      `select id, to_char(purged_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as purged_at,
              to_char(before_month, 'YYYY-MM') as before_month, months, events, counts, ranges, heads
         from audit_purges where id = $1`,
      [id],
    );
    return { ...row, events: Number(row.events) };
  }

  /** Closed log files no checkpoint included yet, locked until the caller's transaction ends. */
  async unsignedLogFiles(sql: Sql): Promise<LogFileDigest[]> {
    const rows = await sql.query<LogFileDigest & { bytes: string }>(
      `select instance, file, bytes, sha256, to_char(closed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as closed_at
         from audit_log_files where checkpoint_sequence is null order by closed_at, instance, file for update`,
    );
    return rows.map((r) => ({ ...r, bytes: Number(r.bytes) }));
  }

  async markLogFilesSigned(sql: Sql, files: LogFileDigest[], sequence: number): Promise<void> {
    if (files.length === 0) return;
    await sql.query(
      `update audit_log_files f set checkpoint_sequence = $3
         from unnest($1::text[], $2::text[]) as s(instance, file) where f.instance = s.instance and f.file = s.file`,
      [files.map((f) => f.instance), files.map((f) => f.file), sequence],
    );
  }

  /**
   * Whether a chain holds events other than checkpoints after `seq`: a checkpoint's own event must not call for
   * another checkpoint a minute later, forever, on an idle log.
   */
  async hasEventsBesideCheckpoints(sql: Sql, chain: string, afterSeq: number): Promise<boolean> {
    const rows = await sql.query(
      `select 1 from audit_events where chain_id = $1 and chain_seq > $2 and event_type <> 'audit_log_checkpoint_created' limit 1`,
      [chain, afterSeq],
    );
    return rows.length > 0;
  }
}
