import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  ChainHead,
  CheckpointBody,
  checkpointDigest,
  CheckpointReason,
  PurgedRange,
  signCheckpoint,
} from '@audit/audit-chain';
import { envelope } from '@audit/contracts';
import { Outbox } from '@audit/outbox';
import { APP_CONFIG, Database } from '@audit/platform';
import { Sql } from '@audit/sql';
import type { AuditRecorderConfig } from '../config';
import { IntegrityRepository, StoredCheckpoint } from './integrity.repository';

/** The recorder acting on its own: checkpoints and purges. */
export const RECORDER_ACTOR = { id: 0, name: 'audit-recorder', ip_address: null };
/** What belongs to no group: the audit log as a whole. */
export const INSTANCE_SCOPE = { entity_type: 'Instance' as const, entity_id: 1, entity_path: 'instance' };

/** Serialises checkpoint makers across replicas (pg advisory lock key). */
const CHECKPOINT_LOCK = 7_301_016;

const samePurged = (a: PurgedRange[], b: PurgedRange[]) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Signs the chain heads (docs/architecture.md, "Integrity: signed checkpoints"): every
 * AUDIT_CHECKPOINT_INTERVAL_MS when events other than checkpoints were stored since the last checkpoint (or a
 * purge happened, or a JSON log file was closed), at a graceful stop, and after each purge. A checkpoint is
 * stored and written to the outbox in one transaction, so it is published as an `audit_log_checkpoint_created`
 * event (recorded, and streamed to the SIEMs) exactly when it exists. Replicas take turns through an advisory
 * lock; the one that finds nothing new signs nothing.
 */
@Injectable()
export class Checkpointer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(Checkpointer.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditRecorderConfig,
    private readonly database: Database,
    private readonly integrity: IntegrityRepository,
    private readonly outbox: Outbox,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.usingDevelopmentSigningKey) {
      this.logger.warn(
        `checkpoints are signed with the DEVELOPMENT key (${this.config.signingKey.keyId}), which is public: set AUDIT_SIGNING_KEY_FILE to your own Ed25519 key`,
      );
    }
    this.timer = setInterval(() => void this.tick(), this.config.AUDIT_CHECKPOINT_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running.catch(() => undefined);
    await this.checkpoint('shutdown').catch((err) =>
      this.logger.warn({ err }, 'no checkpoint at shutdown: the next start signs what this one stored'),
    );
  }

  private tick(): void {
    this.running = this.checkpoint('interval').catch((err) => this.logger.error({ err }, 'checkpoint failed'));
  }

  /**
   * Makes a checkpoint if there is something new to sign (always, for a purge); null when there was not, or when
   * another replica is making one (`interval` only waits for no one). `tx`: the caller's transaction (a purge).
   */
  async checkpoint(reason: CheckpointReason, tx?: Sql): Promise<StoredCheckpoint | null> {
    if (tx) return this.make(tx, reason);
    return this.database.transaction(async (sql) => {
      if (reason === 'interval') {
        const [lock] = await sql.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [
          CHECKPOINT_LOCK,
        ]);
        if (!lock?.ok) return null;
      }
      return this.make(sql, reason);
    });
  }

  private async make(sql: Sql, reason: CheckpointReason): Promise<StoredCheckpoint | null> {
    await sql.query('select pg_advisory_xact_lock($1)', [CHECKPOINT_LOCK]);
    const previous = await this.integrity.latestCheckpoint(sql);
    const heads = await this.integrity.heads(sql);
    const purged = await this.integrity.purgedRanges(sql);
    const logFiles = await this.integrity.unsignedLogFiles(sql);
    if (reason !== 'purge' && previous && logFiles.length === 0) {
      const before = JSON.parse(previous.body) as CheckpointBody;
      if (samePurged(before.purged, purged) && !(await this.hasNewEvents(sql, before.chains, heads))) return null;
    }
    if (reason !== 'purge' && !previous && heads.length === 0 && logFiles.length === 0) return null;
    const key = this.config.signingKey;
    const body: CheckpointBody = {
      version: 1,
      id: randomUUID(),
      sequence: (previous?.sequence ?? 0) + 1,
      created_at: new Date().toISOString(),
      reason,
      key_id: key.keyId,
      previous: previous ? checkpointDigest(previous.body) : null,
      chains: heads,
      purged,
      log_files: logFiles,
    };
    const signed = signCheckpoint(body, key);
    const stored: StoredCheckpoint = {
      ...signed,
      sequence: body.sequence,
      id: body.id,
      created_at: body.created_at,
      reason,
      key_id: key.keyId,
    };
    await this.integrity.insertCheckpoint(sql, stored);
    await this.integrity.markLogFilesSigned(sql, logFiles, body.sequence);
    await this.outbox.append(sql, [
      envelope(
        'AuditLogCheckpointCreated',
        {
          checkpoint_id: body.id,
          sequence: body.sequence,
          reason,
          key_id: key.keyId,
          chains: heads.length,
          events: heads.reduce((n, h) => n + h.seq, 0),
          body: signed.body,
          signature: signed.signature,
        },
        { type: 'AuditLogCheckpoint', id: body.id, version: 1 },
        INSTANCE_SCOPE,
        { actor: RECORDER_ACTOR, correlationId: `checkpoint-${body.sequence}`, now: new Date(body.created_at) },
      ),
    ]);
    this.logger.log(
      { sequence: body.sequence, reason, chains: heads.length, log_files: logFiles.length },
      'signed a checkpoint of the audit log',
    );
    return stored;
  }

  /** Whether any chain moved since `before` by more than checkpoint events. */
  private async hasNewEvents(sql: Sql, before: ChainHead[], heads: ChainHead[]): Promise<boolean> {
    const signed = new Map(before.map((h) => [h.chain, h]));
    for (const head of heads) {
      const last = signed.get(head.chain);
      if (last && last.seq === head.seq && last.hash === head.hash) continue;
      if (!last || last.seq > head.seq) return true;
      if (await this.integrity.hasEventsBesideCheckpoints(sql, head.chain, last.seq)) return true;
    }
    return heads.length < before.length;
  }
}
