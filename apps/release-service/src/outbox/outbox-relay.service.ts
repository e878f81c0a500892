import { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { createIdempotentProducer, KAFKA_CLIENT } from '@audit/kafka';
import { APP_CONFIG, Wakeup } from '@audit/platform';
import { Kafka, Producer } from 'kafkajs';
import type { ReleaseServiceConfig } from '../app/config';

/** Arbitrary but fixed: the advisory lock that lets only one relay publish at a time. */
const RELAY_LOCK_KEY = 7_301_001;
const BATCH = 500;

/**
 * Publishes the outbox to Kafka in append order. Woken right after each committed write, with a
 * slow poll as a safety net. Each pass holds a transaction-scoped advisory lock, so with several
 * instances exactly one publishes; rows are marked published only after Kafka acknowledged them
 * (acks from all replicas, idempotent producer). With Kafka down nothing is marked and the same
 * rows are retried, oldest first, so order per key is kept.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly producer: Producer;
  private readonly wakeup = new Wakeup();
  /** Backoff after a failure ends early only for shutdown, not for new writes. */
  private readonly stopping = new Wakeup();
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly orm: MikroORM,
    @Inject(KAFKA_CLIENT) kafka: Kafka,
    @Inject(APP_CONFIG) private readonly config: ReleaseServiceConfig,
  ) {
    this.producer = createIdempotentProducer(kafka);
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Called after a transaction that wrote to the outbox has committed. */
  wake(): void {
    this.wakeup.wake();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wakeup.wake();
    this.stopping.wake();
    await this.loop;
    await this.producer.disconnect();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const published = await this.publishBatch();
        failures = 0;
        if (published < BATCH) await this.wakeup.wait(this.config.OUTBOX_POLL_INTERVAL_MS);
      } catch (err) {
        failures += 1;
        const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        this.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'outbox publish failed; will retry');
        await this.stopping.wait(delay);
      }
    }
  }

  /** One pass: lock, read the oldest unpublished rows, send them, mark them. Returns the count. */
  async publishBatch(): Promise<number> {
    return this.orm.em.fork().transactional(async (em: EntityManager) => {
      const [lock] = await em.execute<Array<{ locked: boolean }>>('select pg_try_advisory_xact_lock(?) as locked', [RELAY_LOCK_KEY]);
      if (!lock.locked) return 0;
      const rows = await em.execute<Array<{ id: string; topic: string; message_key: string; payload: unknown }>>(
        'select id, topic, message_key, payload from outbox where published_at is null order by id limit ?',
        [BATCH],
      );
      if (rows.length === 0) return 0;
      await this.producer.connect();
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: groupByTopic(rows).map(([topic, messages]) => ({
          topic,
          messages: messages.map((r) => ({ key: r.message_key, value: JSON.stringify(r.payload) })),
        })),
      });
      await em.execute('update outbox set published_at = now() where id in (?)', [rows.map((r) => r.id)]);
      return rows.length;
    });
  }
}

function groupByTopic<T extends { topic: string }>(rows: T[]): Array<[string, T[]]> {
  const byTopic = new Map<string, T[]>();
  for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
  return [...byTopic.entries()];
}
