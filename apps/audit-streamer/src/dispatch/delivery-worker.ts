import { APP_CONFIG } from '@audit/platform';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AuditStreamerConfig } from '../config';
import { AttemptRecorder } from '../outcomes/attempt-recorder';
import { classifyAttempt, nextAttemptDelayMs, parseRetryAfterMs, RetrySchedule } from './backoff';
import { ClaimedDelivery, DispatchRepository } from './dispatch.repository';
import { DeliverySignal } from './delivery-signal';
import { TargetCache } from './target-cache';
import { WebhookSender } from './webhook-sender';

/** A delivery leased at insert and waiting in this process for a slot of its destination. */
interface Queued {
  delivery: ClaimedDelivery;
  /** After this (local clock), too little of the lease is left for a send: it goes back to the claim. */
  sendBy: number;
}

/**
 * Sends deliveries with independent slots per destination: at most
 * DELIVERY_CONCURRENCY_PER_DESTINATION requests in flight to one destination and
 * DELIVERY_CONCURRENCY in all, so a destination that hangs until the timeout holds its own slots
 * and nothing else; a failing one is paused between probes (AttemptRecorder).
 *
 * Two sources of work:
 * - **Hand-off** (the hot path): the consumer leases new deliveries to healthy destinations as it
 *   inserts them and `offer`s them here; they wait in a bounded queue per destination and start as
 *   slots free, with no claim query and no lease write. A destination whose queue is full
 *   (`saturated`) gets its new deliveries unleased, for the claim; a failed attempt sends the
 *   destination's queue back to the claim too (it is about to be paused); so does a stop.
 * - **Claim**: retries, probes, overflow, and the work of instances that died are claimed (leased,
 *   `FOR UPDATE SKIP LOCKED`) for the free slots only. The loop claims again when enough claimed
 *   sends ended, when deliveries were left unleased, or after the poll interval. Several instances
 *   can run side by side. The loop never throws.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DeliveryWorker.name);
  private readonly inFlight = new Map<number, number>();
  private readonly sends = new Set<Promise<void>>();
  private readonly queues = new Map<number, Queued[]>();
  private queued = 0;
  private readonly queueLimit: number;
  private readonly destinationQueueLimit: number;
  private roomWaiters: Array<() => void> = [];
  /** Claimed (not handed-off) sends in flight: only their ends call for another claim. */
  private claimedInFlight = 0;
  private readonly schedule: RetrySchedule;
  private readonly refillAt: number;
  private freedSinceClaim = 0;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
    private readonly deliveries: DispatchRepository,
    private readonly targets: TargetCache,
    private readonly sender: WebhookSender,
    private readonly recorder: AttemptRecorder,
    private readonly signal: DeliverySignal,
  ) {
    this.schedule = { baseMs: config.DELIVERY_RETRY_BASE_MS, maxMs: config.DELIVERY_RETRY_MAX_MS };
    // Claim again once a quarter of a destination's slots are free: refills early, without one query per response.
    this.refillAt = Math.max(1, Math.floor(config.DELIVERY_CONCURRENCY_PER_DESTINATION / 4));
    // A few rounds of slots: enough to keep every slot busy between two consumer chunks, small
    // enough that a queue drains well within the lease even at the request timeout.
    this.destinationQueueLimit = config.DELIVERY_CONCURRENCY_PER_DESTINATION * 4;
    this.queueLimit = config.DELIVERY_CONCURRENCY * 8;
  }

  /** Every lease, claimed or handed off: longer than a send can take (the request timeout plus margins), so a live send is never re-claimed. */
  get leaseMs(): number {
    return this.config.DELIVERY_TIMEOUT_MS * 3 + 5_000;
  }

  /** Destinations whose hand-off queue is full: their new deliveries go to the claim instead. */
  saturated(): number[] {
    const full: number[] = [];
    for (const [id, queue] of this.queues) if (queue.length >= this.destinationQueueLimit) full.push(id);
    return full;
  }

  /**
   * Resolves true when the hand-off queue has room (the consumer's back-pressure: the queue holds
   * only healthy, unsaturated destinations, so it usually drains in milliseconds), or false after
   * `maxWaitMs` or at a stop: many slow destinations fill it, and a consumer waiting on them would
   * hold up the others, so that chunk's deliveries are left to the claim instead.
   */
  async waitForRoom(maxWaitMs: number): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs;
    while (this.queued >= this.queueLimit) {
      const left = deadline - Date.now();
      if (!this.running || left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.roomWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.running;
  }

  /** Deliveries the consumer leased to this process as it inserted them. */
  offer(deliveries: readonly ClaimedDelivery[]): void {
    if (deliveries.length === 0) return;
    if (!this.running) {
      void this.giveBack(deliveries.map((d) => d.id));
      return;
    }
    const sendBy = Date.now() + this.leaseMs - this.config.DELIVERY_TIMEOUT_MS - 5_000;
    const touched = new Set<number>();
    for (const delivery of deliveries) {
      let queue = this.queues.get(delivery.destinationId);
      if (!queue) this.queues.set(delivery.destinationId, (queue = []));
      queue.push({ delivery, sendBy });
      touched.add(delivery.destinationId);
    }
    this.queued += deliveries.length;
    for (const id of touched) this.pump(id);
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops claiming, gives queued hand-offs back, waits for the requests in flight, and records them.
   * First of the shutdown hooks (every onModuleDestroy runs before any beforeApplicationShutdown), so
   * the worker stops sending at once while the consumer (IngestModule) finishes its chunk and leaves
   * its group: what the consumer inserts meanwhile is left unleased, to the claim. The worker's pool
   * and the ORM's close later, in onApplicationShutdown.
   */
  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.signal.wake();
    for (const wake of this.roomWaiters.splice(0)) wake();
    await this.loop;
    await this.giveBack([...this.queues.keys()].flatMap((id) => this.takeQueue(id)));
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
    const claimed = await this.deliveries.claimDue(
      free,
      this.config.DELIVERY_CONCURRENCY_PER_DESTINATION,
      this.inFlight,
      this.leaseMs,
    );
    for (const delivery of claimed) this.start(delivery, true);
  }

  /** Starts queued hand-offs of one destination while it and the process have free slots. */
  private pump(destinationId: number): void {
    const queue = this.queues.get(destinationId);
    if (!queue) return;
    const perDestination = this.config.DELIVERY_CONCURRENCY_PER_DESTINATION;
    const stale: number[] = [];
    while (
      queue.length > 0 &&
      this.total < this.config.DELIVERY_CONCURRENCY &&
      (this.inFlight.get(destinationId) ?? 0) < perDestination
    ) {
      const next = queue.shift() as Queued;
      this.queued--;
      if (Date.now() > next.sendBy) stale.push(next.delivery.id);
      else this.start(next.delivery, false);
    }
    if (queue.length === 0) this.queues.delete(destinationId);
    if (stale.length > 0) void this.giveBack(stale);
    if (this.queued < this.queueLimit) for (const wake of this.roomWaiters.splice(0)) wake();
  }

  /** A global slot came free: the destination that freed it first, then any other with a queue. */
  private pumpAfter(destinationId: number): void {
    this.pump(destinationId);
    if (this.queued === 0) return;
    for (const id of [...this.queues.keys()]) {
      if (this.total >= this.config.DELIVERY_CONCURRENCY) return;
      this.pump(id);
    }
  }

  private takeQueue(destinationId: number): number[] {
    const queue = this.queues.get(destinationId) ?? [];
    this.queues.delete(destinationId);
    this.queued -= queue.length;
    if (this.queued < this.queueLimit) for (const wake of this.roomWaiters.splice(0)) wake();
    return queue.map((q) => q.delivery.id);
  }

  /** Releases leases so the claim (here or in another instance) takes these deliveries at once. */
  private async giveBack(deliveryIds: number[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    try {
      await this.deliveries.releaseLeases(deliveryIds);
      this.signal.wake();
    } catch (err) {
      // The leases then expire on their own: later, but nothing is lost.
      this.logger.error({ err, deliveries: deliveryIds.length }, 'could not release delivery leases');
    }
  }

  private start(delivery: ClaimedDelivery, claimed: boolean): void {
    const id = delivery.destinationId;
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    if (claimed) this.claimedInFlight++;
    const send: Promise<void> = this.deliverOne(delivery).finally(() => {
      this.sends.delete(send);
      const left = (this.inFlight.get(id) ?? 1) - 1;
      if (left > 0) this.inFlight.set(id, left);
      else this.inFlight.delete(id);
      if (this.running) this.pumpAfter(id);
      if (claimed) {
        this.claimedInFlight--;
        if (++this.freedSinceClaim >= this.refillAt || this.claimedInFlight === 0) this.signal.wake();
      }
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
      this.recorder.add({
        deliveryId: delivery.id,
        destinationId: delivery.destinationId,
        ...result,
        retryInMs,
        retryAfterMs,
        verdict,
      });
      if (verdict !== 'delivered') {
        // The destination is about to be paused: its queued hand-offs wait for the claim instead.
        void this.giveBack(this.takeQueue(delivery.destinationId));
        this.logger.warn(
          { deliveryId: delivery.id, destinationId: target.id, attempts, error: result.error, retryInMs },
          'delivery failed',
        );
      }
    } catch (err) {
      // The lease expires on its own, so the delivery is retried; only the log is lost.
      this.logger.error({ err, deliveryId: delivery.id }, 'could not attempt delivery');
    }
  }
}
