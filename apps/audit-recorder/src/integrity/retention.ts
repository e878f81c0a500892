import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { envelope } from '@audit/contracts';
import { Outbox } from '@audit/outbox';
import { APP_CONFIG, Database } from '@audit/platform';
import type { AuditRecorderConfig } from '../config';
import { AuditEventsRepository } from '../audit-events/audit-events.repository';
import { Checkpointer, INSTANCE_SCOPE, RECORDER_ACTOR } from './checkpointer';
import { IntegrityRepository, PurgeRecord } from './integrity.repository';

/** What a purge did: nothing under a legal hold or with nothing expired, else the purge's record. */
export type PurgeOutcome =
  | { status: 'legal_hold'; before: string }
  | { status: 'nothing_expired'; before: string }
  | { status: 'purged'; before: string; purge: PurgeRecord; checkpointSequence: number };

const DAY_MS = 86_400_000;

/** The first day (UTC) of the month holding `now - retentionDays`: months before it are wholly expired. */
export function purgeBoundary(now: Date, retentionDays: number): string {
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS);
  return `${cutoff.toISOString().slice(0, 7)}-01`;
}

/** The first days (UTC) of `now`'s month and the `ahead` months after it. */
export function monthsAhead(now: Date, ahead: number): string[] {
  return Array.from({ length: ahead + 1 }, (_, i) => {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    return d.toISOString().slice(0, 10);
  });
}

/**
 * Partitions and retention (docs/architecture.md, "Retention"). At boot and every AUDIT_MAINTENANCE_INTERVAL_MS:
 * the current month and the next two get their partitions ahead of time, and months wholly older than
 * AUDIT_RETENTION_DAYS are dropped, unless AUDIT_LEGAL_HOLD is set. A purge only ever drops whole months, through
 * audit_events_purge (the database function that records what it dropped); in the same transaction it is
 * published as an `audit_events_purged` event and followed by a checkpoint that signs the cut, so verification
 * after the purge starts from it.
 */
@Injectable()
export class Retention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(Retention.name);
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditRecorderConfig,
    private readonly database: Database,
    private readonly auditEvents: AuditEventsRepository,
    private readonly integrity: IntegrityRepository,
    private readonly checkpointer: Checkpointer,
    private readonly outbox: Outbox,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.AUDIT_LEGAL_HOLD) this.logger.warn('AUDIT_LEGAL_HOLD is set: no audit events are purged');
    await this.maintain();
    this.timer = setInterval(() => void this.maintain(), this.config.AUDIT_MAINTENANCE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Creates the coming months, then purges what expired; a failure is logged and tried again next time. */
  async maintain(now: Date = new Date()): Promise<void> {
    try {
      await this.auditEvents.ensurePartitions(monthsAhead(now, 2));
      await this.purgeExpired(now);
    } catch (err) {
      this.logger.error({ err }, 'partition maintenance failed; trying again at the next interval');
    }
  }

  /** Drops the months wholly older than the retention at `now` (a test's clock, or the real one). */
  async purgeExpired(now: Date = new Date()): Promise<PurgeOutcome> {
    const before = purgeBoundary(now, this.config.AUDIT_RETENTION_DAYS);
    if (this.config.AUDIT_LEGAL_HOLD) return { status: 'legal_hold', before };
    const outcome = await this.database.transaction(async (tx): Promise<PurgeOutcome> => {
      const [row] = await tx.query<{ id: string | null }>('select audit_events_purge($1::date) as id', [before]);
      if (!row?.id) return { status: 'nothing_expired', before };
      const purge = await this.integrity.purge(tx, row.id);
      await this.outbox.append(tx, [
        envelope(
          'AuditEventsPurged',
          {
            purge_id: purge.id,
            retention_days: this.config.AUDIT_RETENTION_DAYS,
            before_month: purge.before_month,
            months: purge.months,
            events: purge.events,
            counts: purge.counts,
            ranges: purge.ranges,
            heads: purge.heads,
          },
          { type: 'AuditEventsPurge', id: purge.id, version: 1 },
          INSTANCE_SCOPE,
          { actor: RECORDER_ACTOR, correlationId: `purge-${purge.id}`, now: new Date() },
        ),
      ]);
      const checkpoint = await this.checkpointer.checkpoint('purge', tx);
      return { status: 'purged', before, purge, checkpointSequence: checkpoint?.sequence ?? 0 };
    });
    if (outcome.status === 'purged') {
      this.logger.log(
        { months: outcome.purge.months, events: outcome.purge.events, checkpoint: outcome.checkpointSequence },
        'purged expired audit events',
      );
    }
    return outcome;
  }
}
