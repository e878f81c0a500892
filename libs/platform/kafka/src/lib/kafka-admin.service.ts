import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { dlqTopicFor } from '@audit/contracts';
import { Admin, Kafka } from 'kafkajs';
import { KAFKA_CLIENT, KAFKA_OPTIONS, KafkaOptions } from './kafka.constants';
import { createKafkaClient } from './kafka-client';

/** How long boot waits for the first attempt of an `optional` service before going on without Kafka. */
const OPTIONAL_BOOT_WAIT_MS = 10_000;
/** Pause between two attempts of the background creation: doubling from the first, capped. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5_000;
/** kafkajs's own retries of one attempt: a refused connection fails within a second. */
const FAIL_FAST = { initialRetryTime: 200, maxRetryTime: 1_000, retries: 2 };

/**
 * Creates the service's topics at boot (the broker does not auto-create them) and answers the
 * readiness probe. One admin connection for the life of the process. With `atBoot: 'optional'` a
 * Kafka that does not answer does not stop the boot: the topics are created in the background.
 */
@Injectable()
export class KafkaAdminService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(KafkaAdminService.name);
  private readonly admin: Admin;
  private readonly optional: boolean;
  private stopping = false;
  private pause: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  /** The probe in flight, shared: probes arriving while Kafka is slow do not pile up requests. */
  private pinging: Promise<{ brokers: number }> | null = null;

  constructor(
    @Inject(KAFKA_CLIENT) kafka: Kafka,
    @Inject(KAFKA_OPTIONS) private readonly options: KafkaOptions,
  ) {
    this.optional = options.atBoot === 'optional';
    // Optional: with the service-wide client a refused connection takes about a minute to fail (the
    // cluster's retries, which kafka.admin({ retry }) does not change); a client of its own fails each
    // attempt fast and lets the loop below pace them, and a probe of a Kafka that is down fails fast too.
    this.admin = this.optional ? createKafkaClient(options, { retry: FAIL_FAST }).admin() : kafka.admin();
  }

  async onModuleInit(): Promise<void> {
    if (!this.optional) {
      await this.admin.connect();
      await this.ensureTopics();
      return;
    }
    // Boot goes on after the first attempt: with Kafka up the topics exist before the service is ready,
    // as with `required`; without, the attempts go on in the background.
    let firstAttempt: () => void = () => undefined;
    const attempted = new Promise<void>((resolve) => (firstAttempt = resolve));
    void this.createInBackground(firstAttempt);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, OPTIONAL_BOOT_WAIT_MS)));
    await Promise.race([attempted, waited]);
    clearTimeout(timer);
  }

  /** Throws unless the cluster answers within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<{ brokers: number }> {
    this.pinging ??= this.admin
      .describeCluster()
      .then((cluster) => ({ brokers: cluster.brokers.length }))
      .finally(() => (this.pinging = null));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Kafka did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.pinging, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Per partition of `topic`: the high watermark minus `groupId`'s committed offset (minus the log start
   * when the group has committed nothing there: all of what is left is to be read).
   */
  async consumerLag(groupId: string, topic: string): Promise<Array<{ partition: number; lag: number }>> {
    const [ends, [committed]] = await Promise.all([
      this.admin.fetchTopicOffsets(topic),
      this.admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return ends.map(({ partition, high, low }) => {
      const offset = at.get(partition) ?? -1;
      return { partition, lag: Math.max(0, Number(high) - (offset >= 0 ? offset : Number(low))) };
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.pause) {
      clearTimeout(this.pause.timer);
      this.pause.resolve();
    }
    await this.admin.disconnect();
  }

  private async ensureTopics(): Promise<void> {
    await ensureTopics(this.admin, this.options.topic, this.options.partitions);
    this.logger.log(`topics ready: ${this.options.topic}, ${dlqTopicFor(this.options.topic)}`);
  }

  /** Until the topics exist or the service stops; never throws. `attempted` is called once the first attempt ended. */
  private async createInBackground(attempted: () => void): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt += 1) {
      try {
        await this.admin.connect();
        await this.ensureTopics();
        attempted();
        return;
      } catch (err) {
        attempted();
        if (this.stopping) return;
        if (attempt === 0) {
          this.logger.warn(
            `Kafka does not answer (${(err as Error).message}): going on without it; the topics are created once it answers`,
          );
        }
        await this.sleep(Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pause = null;
        resolve();
      }, ms);
      this.pause = { timer, resolve };
    });
  }
}

/**
 * Replicas of the topics a service creates: three where the cluster has them (a broker may be lost, or
 * restarted, without losing an event or stopping writes), else every broker. Not the broker's default,
 * which is 1 on many clusters (Kafka's own default, the single-node image's).
 */
export const topicReplicationFactor = (brokers: number): number => Math.max(1, Math.min(3, brokers));

/** Idempotent: creating a topic that exists is not an error, so concurrent services may race. */
export async function ensureTopics(admin: Admin, topic: string, partitions: number): Promise<void> {
  const existing = new Set(await admin.listTopics());
  if ([topic, dlqTopicFor(topic)].every((t) => existing.has(t))) return;
  const replicationFactor = topicReplicationFactor((await admin.describeCluster()).brokers.length);
  const missing = [
    { topic, numPartitions: partitions, replicationFactor },
    { topic: dlqTopicFor(topic), numPartitions: 1, replicationFactor },
  ].filter((t) => !existing.has(t.topic));
  await admin.createTopics({ waitForLeaders: false, topics: missing }); // waited for below
  await waitForLeaders(
    admin,
    missing.map((t) => t.topic),
  );
}

/**
 * Until every partition of `topics` has a leader. Not kafkajs's `waitForLeaders`: it asks the broker that
 * forwarded the creation to the controller and gives up at its first "unknown topic", and on a cluster that
 * broker may learn of the new topic a moment after the controller created it.
 */
export async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let last: unknown;
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      if (metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      last = err; // unknown to the broker asked, yet: asked again
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${topics.join(', ')} have no leader after ${timeoutMs} ms`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
