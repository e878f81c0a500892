import { APP_CONFIG } from '@audit/platform';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditStreamerConfig } from '../app/config';
import { AttemptRecorder } from './attempt-recorder';
import { classifyAttempt, nextAttemptDelayMs, parseRetryAfterMs, RetrySchedule } from './backoff';
import { ClaimedDelivery, DeliveriesRepository } from './deliveries.repository';
import { DeliverySignal } from './delivery-signal';
import { TargetCache } from './target-cache';
import { WebhookSender } from './webhook-sender';

/**
 * Sends due deliveries with independent slots per destination: at most
 * DELIVERY_CONCURRENCY_PER_DESTINATION requests in flight to one destination and
 * DELIVERY_CONCURRENCY in all. The loop claims (leases) work for the free slots only, so a
 * destination that hangs until the timeout holds its own slots and nothing else; a failing one is
 * paused between probes (AttemptRecorder). Each request is started as soon as it is claimed and
 * recorded when it ends; the loop claims again when enough slots came free, when the consumer
 * wrote new deliveries, or after the poll interval (retries and probes falling due). Several
 * instances can run side by side (SKIP LOCKED). The loop never throws.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryWorker.name);
  private readonly inFlight = new Map<number, number>();
  private readonly sends = new Set<Promise<void>>();
  private readonly schedule: RetrySchedule;
  private readonly refillAt: number;
  private freedSinceClaim = 0;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
    private readonly deliveries: DeliveriesRepository,
    private readonly targets: TargetCache,
    private readonly sender: WebhookSender,
    private readonly recorder: AttemptRecorder,
    private readonly signal: DeliverySignal,
  ) {
    this.schedule = { baseMs: config.DELIVERY_RETRY_BASE_MS, maxMs: config.DELIVERY_RETRY_MAX_MS };
    // Claim again once a quarter of a destination's slots are free: refills early, without one query per response.
    this.refillAt = Math.max(1, Math.floor(config.DELIVERY_CONCURRENCY_PER_DESTINATION / 4));
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming, waits for the requests in flight, and records them. */
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.signal.wake();
    await this.loop;
    await Promise.all(this.sends);
    await this.recorder.flush();
  }

  private get total(): number {
    return this.sends.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const free = this.config.DELIVERY_CONCURRENCY - this.total;
      try {
        if (free > 0) await this.claimAndStart(free);
      } catch (err) {
        this.logger.error({ err }, 'delivery claim failed');
      }
      // Whatever was claimed, the next claim waits for a reason: slots freed, new deliveries, or the poll.
      if (this.running) await this.signal.wait(this.config.DELIVERY_POLL_INTERVAL_MS);
    }
  }

  private async claimAndStart(free: number): Promise<void> {
    this.freedSinceClaim = 0;
    const claimed = await this.deliveries.claimDue(free, this.config.DELIVERY_CONCURRENCY_PER_DESTINATION, this.inFlight, this.leaseMs());
    for (const delivery of claimed) this.start(delivery);
  }

  private start(delivery: ClaimedDelivery): void {
    const id = delivery.destinationId;
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    const send: Promise<void> = this.deliverOne(delivery).finally(() => {
      this.sends.delete(send);
      const left = (this.inFlight.get(id) ?? 1) - 1;
      if (left > 0) this.inFlight.set(id, left);
      else this.inFlight.delete(id);
      if (++this.freedSinceClaim >= this.refillAt || this.total === 0) this.signal.wake();
    });
    this.sends.add(send);
  }

  private async deliverOne(delivery: ClaimedDelivery): Promise<void> {
    try {
      const target = await this.targets.get(delivery.destinationId, delivery.destinationVersion);
      if (!target) return; // deleted or deactivated since the claim: the lease expires, nothing is sent
      const result = await this.sender.send({ url: target.url, ...target.build(delivery, Date.now()) });
      const verdict = classifyAttempt(result.statusCode);
      const attempts = delivery.attempts + 1;
      const retryAfterMs = parseRetryAfterMs(result.retryAfter, Date.now());
      const retryInMs = verdict === 'delivered' ? null : nextAttemptDelayMs(attempts, retryAfterMs, this.schedule);
      this.recorder.add({ deliveryId: delivery.id, destinationId: delivery.destinationId, ...result, retryInMs, retryAfterMs, verdict });
      if (verdict !== 'delivered') {
        this.logger.warn({ deliveryId: delivery.id, destinationId: target.id, attempts, error: result.error, retryInMs }, 'delivery failed');
      }
    } catch (err) {
      // The lease expires on its own, so the delivery is retried; only the log is lost.
      this.logger.error({ err, deliveryId: delivery.id }, 'could not attempt delivery');
    }
  }

  /** Longer than a send can take (the request's own timeout plus a margin), so a live send is never re-claimed. */
  private leaseMs(): number {
    return this.config.DELIVERY_TIMEOUT_MS * 3 + 5_000;
  }
}
