import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { KAFKA_OPTIONS, KafkaOptions } from '@audit/kafka';
import { APP_CONFIG, Database, databaseUrl, Wakeup } from '@audit/platform';
import { Telemetry } from '@audit/telemetry';
import type { Counter } from 'prom-client';
import { OutboxConfig, PRUNE_BATCH_ROWS, PRUNE_PUBLISHED } from './outbox';
import { BATCH_ROWS, OLDEST_UNPUBLISHED, OutboxBatch, OutboxRow, takeBatch } from './outbox-batch';
import { RelayProducer } from './relay-producer';
import { RelaySession } from './relay-session';

/** Short enough that publication resumes within seconds of Kafka (or PostgreSQL) coming back. */
const MAX_BACKOFF_MS = 5000;
const FIRST_BACKOFF_MS = 250;

/**
 * Publishes the outbox to Kafka in append (id) order, from one instance at a time.
 *
 * Every instance runs this loop; the one holding a session-level advisory lock on its own
 * PostgreSQL session is the leader and publishes, the others retry the lock every poll interval
 * (or on a NOTIFY) and take over when the leader's session ends. The leader wakes on NOTIFY from
 * any instance's commit, on `wake()` from this one, and on a slow poll in case a wake-up is missed.
 *
 * A pass sends the oldest unpublished rows and marks them only after Kafka acknowledged them. With
 * Kafka down nothing is marked and the same batch is resent whole, oldest first, so order per key
 * holds; delivery is at least once and consumers deduplicate by event id. (Id order is the order
 * of committed rows: two concurrent transactions may commit out of id order, and a row that
 * commits late is published late. Writes that depend on each other are always in order.)
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly producer: RelayProducer;
  private readonly session: RelaySession;
  private readonly wakeup = new Wakeup();
  /** Backoff after a failure ends early only for shutdown, not for new writes. */
  private readonly stopping = new Wakeup();
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private outage: { since: number; attempts: number } | null = null;
  /**
   * The current pass's batch until its rows are marked, kept across failures and resent exactly as
   * it was: kafkajs rolls back the sequence numbers of a failed send, so an identical resend after
   * a lost ack is deduplicated by the broker (a batch grown meanwhile would be refused as out of
   * sequence). Once Kafka acknowledged it, only the marking is retried.
   */
  private pending: { batch: OutboxBatch; acknowledged: boolean } | null = null;
  /** When the leader last pruned published rows (0: not yet). */
  private prunedAt = 0;
  private readonly published: Counter;

  constructor(
    @Inject(APP_CONFIG) private readonly config: OutboxConfig,
    @Inject(KAFKA_OPTIONS) kafka: KafkaOptions,
    database: Database,
    telemetry: Telemetry,
  ) {
    this.published = telemetry.metrics.counter({
      name: 'audit_outbox_published_total',
      help: 'Outbox rows this instance published to Kafka (acknowledged by every in-sync replica, then marked).',
    });
    registerOutboxGauges(telemetry, database, this.logger);
    this.producer = new RelayProducer({
      brokers: kafka.brokers,
      clientId: `${kafka.clientId}-outbox-relay`,
      ssl: kafka.ssl,
      sasl: kafka.sasl,
    });
    this.session = new RelaySession(
      databaseUrl(config.DATABASE_URL, config.DATABASE_NAME),
      {
        onNotify: () => this.wakeup.wake(),
        onLost: (err, wasLeader) => this.sessionLost(err, wasLeader),
      },
      `${kafka.clientId}-outbox-relay`,
    );
  }

  /** Whether this instance currently publishes (holds the relay lock). */
  get isLeader(): boolean {
    return this.session.isLeader;
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Called after a transaction that wrote to the outbox has committed. */
  wake(): void {
    this.wakeup.wake();
  }

  /**
   * Lets the current pass finish within a grace period, then ends the session, which releases the
   * lock and stops an unfinished pass from marking anything (its rows are resent by the next
   * leader). Every step is bounded, so a Kafka outage cannot hold the shutdown.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wakeup.wake();
    this.stopping.wake();
    const graceMs = Math.min(5000, Math.floor(this.config.SHUTDOWN_TIMEOUT_MS / 4));
    if (!(await settlesWithin(this.loop, graceMs))) {
      this.logger.warn(
        { graceMs },
        'outbox pass still running at shutdown; aborting it, its rows stay unpublished for the next leader',
      );
    }
    await settlesWithin(this.session.close(), graceMs);
    await settlesWithin(this.producer.disconnect(), graceMs);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      const attemptStarted = Date.now();
      try {
        const more = await this.step();
        failures = 0;
        if (!more) await this.wakeup.wait(this.config.OUTBOX_POLL_INTERVAL_MS);
      } catch (err) {
        if (!this.running) break;
        failures += 1;
        this.outage ??= { since: attemptStarted, attempts: 0 };
        this.outage.attempts += 1;
        const retryInMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1));
        // The message only: errors of pg and kafkajs name hosts and ports, never credentials.
        this.logger.warn(
          { err: (err as Error).message, attempt: failures, retryInMs, leader: this.isLeader },
          'outbox relay pass failed; unpublished rows are retried oldest first',
        );
        await this.stopping.wait(retryInMs);
      }
    }
  }

  /** Session up, leadership tried, one batch published if leading. True if more rows may be waiting. */
  private async step(): Promise<boolean> {
    await this.session.open();
    const wasLeader = this.session.isLeader;
    if (!(await this.session.tryLead())) {
      this.recovered(null);
      return false;
    }
    if (!wasLeader) this.logger.log('this instance now leads the outbox relay');
    const { more, oldestAgeMs } = await this.publishPass();
    this.recovered(oldestAgeMs);
    if (!more) await this.pruneIfDue();
    return more;
  }

  /** The oldest unpublished rows (or the batch that failed), marked only once Kafka acknowledged all. */
  private async publishPass(): Promise<{ more: boolean; oldestAgeMs: number | null }> {
    if (!this.pending) {
      const batch = takeBatch(await this.session.query<OutboxRow>(OLDEST_UNPUBLISHED, [BATCH_ROWS]));
      if (!batch) return { more: false, oldestAgeMs: null };
      this.pending = { batch, acknowledged: false };
    }
    const pending = this.pending; // a lost session may drop this.pending while we wait on Kafka
    const { batch } = pending;
    if (!pending.acknowledged) {
      await this.producer.send(batch.messages);
      pending.acknowledged = true;
    }
    // On the session that holds the lock: a relay that lost leadership mid-pass cannot mark rows.
    await this.session.query('update outbox set published_at = now() where id = any($1::bigint[])', [batch.ids]);
    this.pending = null;
    this.published.inc(batch.ids.length);
    return { more: batch.more, oldestAgeMs: batch.oldestAgeMs + (Date.now() - batch.readAt) };
  }

  /**
   * Deletes published rows past OUTBOX_RETENTION_MS, at most every OUTBOX_PRUNE_INTERVAL_MS, on the
   * leader's session (so two instances never prune at once) and only when nothing waits to be
   * published. Short batches; a prune that finds a full batch goes on at the next idle pass.
   */
  private async pruneIfDue(): Promise<void> {
    if (Date.now() - this.prunedAt < this.config.OUTBOX_PRUNE_INTERVAL_MS) return;
    this.prunedAt = Date.now();
    let deleted = 0;
    for (let batch = 0; batch < 20; batch++) {
      const rows = await this.session.query<{ id: string }>(`${PRUNE_PUBLISHED} returning id`, [
        this.config.OUTBOX_RETENTION_MS,
        PRUNE_BATCH_ROWS,
      ]);
      deleted += rows.length;
      if (rows.length < PRUNE_BATCH_ROWS) break;
    }
    if (deleted > 0)
      this.logger.log({ deleted, retentionMs: this.config.OUTBOX_RETENTION_MS }, 'published outbox rows pruned');
  }

  /** After failures, one line saying the relay works again and how far behind the outbox was. */
  private recovered(oldestAgeMs: number | null): void {
    if (!this.outage) return;
    const { since, attempts } = this.outage;
    this.outage = null;
    this.logger.log(
      { failedAttempts: attempts, outageMs: Date.now() - since, outboxLagMs: oldestAgeMs },
      'outbox relay recovered',
    );
  }

  private sessionLost(err: Error, wasLeader: boolean): void {
    if (!this.running) return;
    this.pending = null; // whoever leads next, maybe another instance, starts from the table again
    this.logger.warn({ err: err.message, wasLeader }, 'outbox relay lost its PostgreSQL session; reconnecting');
    this.wakeup.wake(); // reconnect now rather than at the next poll
  }
}

/**
 * The backlog, read from the table at scrape time by every instance (so whichever leads, and while none
 * does, the figure is there): the same numbers from every replica; dashboards and alerts take the max.
 */
function registerOutboxGauges(telemetry: Telemetry, database: Database, logger: Logger): void {
  telemetry.metrics.backlogGauges(
    { name: 'audit_outbox_pending_events', help: 'Outbox rows not yet published to Kafka.' },
    {
      name: 'audit_outbox_oldest_pending_age_seconds',
      help: 'How long the oldest unpublished outbox row has waited (0 when none waits).',
    },
    async () => {
      const [row] = await database.autocommit.query<{ n: string; age: number | null }>(
        `select count(*) as n, extract(epoch from clock_timestamp() - min(created_at))::float8 as age
           from outbox where published_at is null`,
      );
      return { count: Number(row.n), ageSeconds: row.age };
    },
    (err) => logger.warn({ err: err.message }, 'could not read the outbox backlog for /metrics'),
  );
}

/** Waits for `work` at most `ms`; true if it settled in time. Never rejects. */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
