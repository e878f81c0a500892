import { APP_CONFIG } from '@audit/platform';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditStreamerConfig } from '../app/config';
import { SecretBox } from '../crypto/secret-box';
import { nextAttemptDelayMs, parseRetryAfterMs } from './backoff';
import { ClaimedDelivery, DeliveriesRepository, DestinationTarget } from './deliveries.repository';
import { DeliverySignal } from './delivery-signal';
import { WebhookSender } from './webhook-sender';
import { buildWebhook } from './webhook-request';

const CLAIM_BATCH = 50;

/**
 * Sends due deliveries: claim (lease) → send → record, in a loop woken by the consumer or, failing
 * that, by a poll. Several instances can run side by side (SKIP LOCKED). The loop never throws:
 * every error is logged and the next round starts after the poll interval.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryWorker.name);
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
    private readonly deliveries: DeliveriesRepository,
    private readonly sender: WebhookSender,
    private readonly secrets: SecretBox,
    private readonly signal: DeliverySignal,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming and waits for the requests in flight to be sent and recorded. */
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.signal.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.deliverDue();
      } catch (err) {
        this.logger.error({ err }, 'delivery round failed');
      }
      if (claimed < CLAIM_BATCH && this.running) await this.signal.wait(this.config.DELIVERY_POLL_INTERVAL_MS);
    }
  }

  /** One round; returns how many deliveries it claimed. */
  private async deliverDue(): Promise<number> {
    const claimed = await this.deliveries.claimDue(CLAIM_BATCH, this.leaseMs());
    if (claimed.length === 0) return 0;
    const targets = await this.deliveries.loadTargets(claimed.map((d) => d.destinationId));
    await Promise.all(claimed.map((delivery) => this.deliverOne(delivery, targets.get(delivery.destinationId))));
    return claimed.length;
  }

  private async deliverOne(delivery: ClaimedDelivery, target: DestinationTarget | undefined): Promise<void> {
    try {
      if (!target) return; // destination deleted since the claim: its deliveries went with it
      const webhook = buildWebhook({
        auditEventId: delivery.auditEventId,
        eventType: delivery.eventType,
        payload: delivery.payload,
        verificationToken: this.secrets.decrypt(target.verificationToken),
        signingSecret: this.secrets.decrypt(target.signingSecret),
        customHeaders: target.headers.map((h) => ({ key: h.key, value: this.secrets.decrypt(h.value) })),
        nowMs: Date.now(),
      });
      const result = await this.sender.send({ url: target.url, ...webhook });
      const attempts = delivery.attempts + 1;
      const retryInMs = result.error === null ? null : nextAttemptDelayMs(attempts, parseRetryAfterMs(result.retryAfter, Date.now()));
      await this.deliveries.recordAttempt({ deliveryId: delivery.id, ...result, retryInMs });
      if (result.error !== null) {
        this.logger.warn({ deliveryId: delivery.id, destinationId: target.id, attempts, error: result.error, retryInMs }, 'delivery failed');
      }
    } catch (err) {
      // The lease expires on its own, so the delivery is retried; only the log is lost.
      this.logger.error({ err, deliveryId: delivery.id }, 'could not attempt delivery');
    }
  }

  /** Longer than a send can take (connect + headers + body timeouts), so a live send is never re-claimed. */
  private leaseMs(): number {
    return this.config.DELIVERY_TIMEOUT_MS * 3 + 5_000;
  }
}
