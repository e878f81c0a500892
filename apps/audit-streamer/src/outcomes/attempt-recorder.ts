import { APP_CONFIG } from '@audit/platform';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuditStreamerConfig } from '../config';
import { AttemptVerdict, destinationPauseMs } from '../dispatch/backoff';
import { AttemptOutcome, OutcomesRepository } from './outcomes.repository';
import { DestinationDeactivation } from './destination-deactivation';

export interface RecordedAttempt extends AttemptOutcome {
  verdict: AttemptVerdict;
  retryAfterMs: number | null;
}

const FLUSH_SIZE = 500;
const FLUSH_DELAY_MS = 5;
const HEALTHY_RECHECK_MS = 5_000;

/**
 * Collects attempt outcomes and writes them in batches (one statement per batch instead of one per
 * request: at thousands of deliveries per second the per-statement round trip is the bottleneck),
 * then updates each destination's health: a round with any 2xx means healthy; a round of only
 * failures pauses the destination until its next probe; a 410, or failing for longer than
 * DELIVERY_DEACTIVATE_AFTER_MS, deactivates it. Flushes run one at a time.
 */
@Injectable()
export class AttemptRecorder {
  private readonly logger = new Logger(AttemptRecorder.name);
  private buffer: RecordedAttempt[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Destination id → until when it counts as healthy without writing it again. */
  private readonly knownHealthy = new Map<number, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
    private readonly outcomes: OutcomesRepository,
    private readonly deactivation: DestinationDeactivation,
  ) {}

  add(attempt: RecordedAttempt): void {
    this.buffer.push(attempt);
    if (this.buffer.length >= FLUSH_SIZE) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  /** Writes everything buffered so far; resolves when it is in the database (or logged as lost). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(() => (batch.length > 0 ? this.write(batch) : undefined));
    return this.flushing;
  }

  private async write(batch: RecordedAttempt[]): Promise<void> {
    try {
      await this.outcomes.recordAttempts(batch);
      await this.updateHealth(batch);
    } catch (err) {
      // The leases expire on their own, so these deliveries are tried again: at least once still holds.
      this.logger.error({ err, attempts: batch.length }, 'could not record delivery attempts');
    }
  }

  private async updateHealth(batch: RecordedAttempt[]): Promise<void> {
    const rounds = new Map<number, { ok: boolean; gone: boolean; retryAfterMs: number | null }>();
    for (const a of batch) {
      const round = rounds.get(a.destinationId) ?? { ok: false, gone: false, retryAfterMs: null };
      round.ok ||= a.verdict === 'delivered';
      round.gone ||= a.verdict === 'gone';
      if (a.retryAfterMs !== null) round.retryAfterMs = Math.max(round.retryAfterMs ?? 0, a.retryAfterMs);
      rounds.set(a.destinationId, round);
    }
    for (const [id, round] of rounds) {
      if (round.gone) await this.deactivation.deactivate(id, 'the destination answered 410 Gone');
    }
    const now = Date.now();
    const healthy = [...rounds].filter(([, r]) => r.ok).map(([id]) => id);
    // A destination this process saw healthy a moment ago needs no health write per flush (at low
    // rates that was one more statement per delivery). Re-checked every HEALTHY_RECHECK_MS, so a
    // pause set by another instance is still lifted by this one's successes.
    const unconfirmed = healthy.filter((id) => (this.knownHealthy.get(id) ?? 0) <= now);
    const recovered = await this.outcomes.markRecovered(unconfirmed);
    for (const id of unconfirmed) this.knownHealthy.set(id, now + HEALTHY_RECHECK_MS);
    if (recovered.length > 0) this.logger.log({ destinationIds: recovered }, 'streaming destinations recovered');
    const failing = [...rounds].filter(([, r]) => !r.ok && !r.gone);
    for (const [id] of failing) this.knownHealthy.delete(id);
    if (failing.length > 0) await this.pause(failing);
  }

  private async pause(failing: Array<[number, { retryAfterMs: number | null }]>): Promise<void> {
    const levels = await this.outcomes.pauseLevels(failing.map(([id]) => id));
    const failures = failing.map(([destinationId, r]) => {
      const pauseLevel = (levels.get(destinationId) ?? 0) + 1;
      const pauseMs = destinationPauseMs(
        pauseLevel,
        this.config.DELIVERY_RETRY_BASE_MS,
        this.config.DELIVERY_PAUSE_MAX_MS,
        r.retryAfterMs,
      );
      return { destinationId, pauseLevel, pauseMs };
    });
    const marked = await this.outcomes.markFailing(failures);
    const limit = Date.now() - this.config.DELIVERY_DEACTIVATE_AFTER_MS;
    for (const { destinationId, failingSince } of marked) {
      if (Date.parse(failingSince) <= limit) {
        const reason = `every delivery failed since ${failingSince} (over ${formatDuration(this.config.DELIVERY_DEACTIVATE_AFTER_MS)})`;
        await this.deactivation.deactivate(destinationId, reason);
      }
    }
  }
}

const formatDuration = (ms: number): string =>
  ms >= 36e5 ? `${Math.round(ms / 36e5)} h` : `${Math.round(ms / 1000)} s`;
