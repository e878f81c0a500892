import { APP_CONFIG } from '@audit/platform';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AuditStreamerConfig } from '../config';
import { AttemptRecorder } from '../outcomes/attempt-recorder';
import { classifyAttempt, nextAttemptDelayMs, parseRetryAfterMs, RetrySchedule } from './backoff';
import { ClaimedDelivery, DispatchRepository } from './dispatch.repository';
import { DeliverySignal } from './delivery-signal';
import { DestinationSlots } from './destination-slots';
import { isSampled, SpanKind, SpanStatusCode, Telemetry } from '@audit/telemetry';
import { DeliveryMetrics } from './delivery-metrics';
import { ReadyTarget, TargetCache } from './target-cache';
import type { HeaderPair } from './webhook-request';
import { SendResult, WebhookSender } from './webhook-sender';

/** A leased delivery waiting in this process for a slot of its destination. */
interface Queued {
  delivery: ClaimedDelivery;
  /** After this (local clock), too little of the lease is left for a send: it goes back to the claim. */
  sendBy: number;
  /** Claimed (rather than handed off by the consumer): its end calls for another claim. */
  claimed: boolean;
}

/** Slots of a destination this process has had no work for during this long are given back to the fleet. */
const LINGER_MS = 1_000;

/**
 * Sends deliveries with independent slots per destination: at most
 * DELIVERY_CONCURRENCY_PER_DESTINATION requests in flight to one destination from the whole fleet
 * (the slots of DestinationSlots, shared through the database by every replica; one while the
 * destination is paused, its probe) and DELIVERY_CONCURRENCY in this process, so a destination
 * that hangs until the timeout holds its own slots and nothing else; a failing one is paused
 * between probes (AttemptRecorder).
 *
 * Every send passes one gate: a destination's queue starts a delivery only while its requests in
 * flight here are fewer than the slots held here (`pump`); short of slots, it asks DestinationSlots
 * for more, in batches, never per request. Two sources feed the queues:
 * - **Hand-off** (the hot path): the consumer leases new deliveries to healthy destinations as it
 *   inserts them and `offer`s them here, with no claim query and no lease write. A destination whose
 *   queue is full, or which this process could not get slots for (`saturated`), gets its new
 *   deliveries unleased, for the claim (of whichever replica holds its slots); a failed attempt
 *   sends the destination's queue back to the claim too (it is about to be paused); so does a stop,
 *   and so does a delivery that waited in the queue until its lease ran short.
 * - **Claim**: retries, probes, overflow, and the work of instances that died are claimed (leased,
 *   `FOR UPDATE SKIP LOCKED`) for the slots this process may still use. The loop claims again when
 *   enough claimed sends ended, when deliveries were left unleased, or after the poll interval. The
 *   loop never throws.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(DeliveryWorker.name);
  private readonly inFlight = new Map<number, number>();
  private readonly sends = new Set<Promise<void>>();
  private readonly queues = new Map<number, Queued[]>();
  private queued = 0;
  /** Claimed deliveries waiting in the queues: the claim counts them against DELIVERY_CONCURRENCY. */
  private claimedQueued = 0;
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
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  /** Destinations whose slots are held here with no work: since when. */
  private readonly idleSince = new Map<number, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
    private readonly deliveries: DispatchRepository,
    private readonly targets: TargetCache,
    private readonly sender: WebhookSender,
    private readonly recorder: AttemptRecorder,
    private readonly signal: DeliverySignal,
    private readonly slots: DestinationSlots,
    private readonly metrics: DeliveryMetrics,
    private readonly telemetry: Telemetry,
  ) {
    this.schedule = { baseMs: config.DELIVERY_RETRY_BASE_MS, maxMs: config.DELIVERY_RETRY_MAX_MS };
    // Claim again once a quarter of a destination's slots are free: refills early, without one query per response.
    this.refillAt = Math.max(1, Math.floor(config.DELIVERY_CONCURRENCY_PER_DESTINATION / 4));
    // A few rounds of slots: enough to keep every slot busy between two consumer chunks, small
    // enough that a queue drains well within the lease even at the request timeout.
    this.destinationQueueLimit = config.DELIVERY_CONCURRENCY_PER_DESTINATION * 4;
    this.queueLimit = config.DELIVERY_CONCURRENCY * 8;
    slots.onAcquired((ids) => this.acquired(ids));
  }

  /** Every lease, claimed or handed off: longer than a send can take (the request timeout plus margins), so a live send is never re-claimed. */
  get leaseMs(): number {
    return this.config.DELIVERY_TIMEOUT_MS * 3 + 5_000;
  }

  /**
   * Destinations whose new deliveries go to the claim instead of this process's queue: the queue
   * is full, or it waits for slots that other replicas hold (they claim the deliveries instead).
   */
  saturated(): number[] {
    const full = new Set(this.slots.starved());
    for (const [id, queue] of this.queues) if (queue.length >= this.destinationQueueLimit) full.add(id);
    return [...full];
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
    this.enqueue(deliveries, Date.now(), false);
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = null));
    }, this.slots.tickMs);
  }

  /**
   * Stops claiming, gives queued deliveries back, waits for the requests in flight, records them,
   * and frees this process's slots. First of the shutdown hooks (every onModuleDestroy runs before
   * any beforeApplicationShutdown), so the worker stops sending at once while the consumer
   * (IngestModule) finishes its chunk and leaves its group: what the consumer inserts meanwhile is
   * left unleased, to the claim. The worker's pool and the ORM's close later, in onApplicationShutdown.
   */
  async onModuleDestroy(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.signal.wake();
    for (const wake of this.roomWaiters.splice(0)) wake();
    await this.loop;
    await this.ticking;
    await this.giveBack([...this.queues.keys()].flatMap((id) => this.takeQueue(id)));
    await Promise.all(this.sends);
    await this.recorder.flush();
    await this.slots.stop();
  }

  private get total(): number {
    return this.sends.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const free = this.config.DELIVERY_CONCURRENCY - this.total - this.claimedQueued;
      try {
        if (free > 0) await this.claimAndQueue(free);
      } catch (err) {
        this.logger.error({ err }, 'delivery claim failed');
      }
      // Whatever was claimed, the next claim waits for a reason: slots freed, new deliveries, or the poll.
      if (this.running) await this.signal.wait(this.config.DELIVERY_POLL_INTERVAL_MS);
    }
  }

  private async claimAndQueue(free: number): Promise<void> {
    this.freedSinceClaim = 0;
    const busy = new Map(this.inFlight);
    for (const [id, queue] of this.queues) busy.set(id, (busy.get(id) ?? 0) + queue.length);
    const issued = Date.now();
    const claimed = await this.deliveries.claimDue(
      free,
      this.config.DELIVERY_CONCURRENCY_PER_DESTINATION,
      busy,
      this.leaseMs,
      { holder: this.slots.holder, paused: this.slots.paused() },
    );
    for (const c of claimed)
      this.slots.observe({ destinationId: c.destinationId, paused: c.paused, share: c.share }, issued);
    this.enqueue(claimed, issued, true);
  }

  private enqueue(deliveries: readonly ClaimedDelivery[], leasedAt: number, claimed: boolean): void {
    if (deliveries.length === 0) return;
    const sendBy = leasedAt + this.leaseMs - this.config.DELIVERY_TIMEOUT_MS - 5_000;
    const touched = new Set<number>();
    for (const delivery of deliveries) {
      let queue = this.queues.get(delivery.destinationId);
      if (!queue) this.queues.set(delivery.destinationId, (queue = []));
      queue.push({ delivery, sendBy, claimed });
      touched.add(delivery.destinationId);
    }
    this.queued += deliveries.length;
    if (claimed) this.claimedQueued += deliveries.length;
    for (const id of touched) {
      this.idleSince.delete(id);
      this.pump(id);
    }
  }

  /**
   * The gate: starts queued deliveries of one destination while it has usable slots here and the
   * process has free room; short of slots, asks for more (batched and coalesced by DestinationSlots).
   */
  private pump(destinationId: number): void {
    const queue = this.queues.get(destinationId);
    if (!queue) return;
    const now = Date.now();
    const usable = this.slots.usable(destinationId, now);
    const stale: number[] = [];
    while (
      queue.length > 0 &&
      this.total < this.config.DELIVERY_CONCURRENCY &&
      (this.inFlight.get(destinationId) ?? 0) < usable
    ) {
      const next = this.dequeue(queue.shift() as Queued);
      if (now > next.sendBy) stale.push(next.delivery.id);
      else this.start(next.delivery, next.claimed);
    }
    if (queue.length === 0) this.queues.delete(destinationId);
    else if (this.total < this.config.DELIVERY_CONCURRENCY) {
      this.slots.request(destinationId, (this.inFlight.get(destinationId) ?? 0) + queue.length);
    }
    if (stale.length > 0) void this.giveBack(stale);
    if (this.queued < this.queueLimit) for (const wake of this.roomWaiters.splice(0)) wake();
  }

  /**
   * Slots were asked for these destinations: start what they allow. A destination left with no
   * usable slot (other replicas hold them all) gives its queue back at once, to the claim of the
   * holders, rather than keep it waiting here; this process asks again at the next tick, as a
   * waiter the holders make room for (their fair share).
   */
  private acquired(destinationIds: number[]): void {
    if (!this.running) return;
    const starved = new Set(this.slots.starved());
    for (const id of destinationIds) {
      this.pump(id);
      if (starved.has(id) && this.queues.has(id)) void this.giveBack(this.takeQueue(id));
    }
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

  private dequeue(entry: Queued): Queued {
    this.queued--;
    if (entry.claimed) this.claimedQueued--;
    return entry;
  }

  private takeQueue(destinationId: number): number[] {
    const queue = this.queues.get(destinationId) ?? [];
    this.queues.delete(destinationId);
    for (const entry of queue) this.dequeue(entry);
    if (this.queued < this.queueLimit) for (const wake of this.roomWaiters.splice(0)) wake();
    return queue.map((q) => q.delivery.id);
  }

  /**
   * Once per DestinationSlots.tickMs: renews slots and reads fair shares; gives back slots beyond the
   * share and those of destinations idle for LINGER_MS; gives back deliveries whose lease ran short
   * while they waited for a slot; and lets every queue ask for slots again.
   */
  private async tick(): Promise<void> {
    await this.slots.tick();
    if (!this.running) return;
    const now = Date.now();
    const held = new Set(this.slots.destinations());
    for (const id of this.idleSince.keys()) if (!held.has(id)) this.idleSince.delete(id);
    for (const id of held) {
      const inFlight = this.inFlight.get(id) ?? 0;
      if (inFlight > 0 || this.queues.has(id)) {
        this.idleSince.delete(id);
        this.slots.trim(id, inFlight);
        continue;
      }
      const since = this.idleSince.get(id);
      if (since === undefined) this.idleSince.set(id, now);
      else if (now - since >= LINGER_MS) {
        this.idleSince.delete(id);
        this.slots.releaseAll(id);
      }
    }
    const stale: number[] = [];
    for (const [id, queue] of this.queues) {
      const fresh = queue.filter((q) => q.sendBy >= now);
      if (fresh.length === queue.length) continue;
      for (const q of queue) if (q.sendBy < now) stale.push(this.dequeue(q).delivery.id);
      if (fresh.length > 0) this.queues.set(id, fresh);
      else this.queues.delete(id);
    }
    if (stale.length > 0) void this.giveBack(stale);
    for (const id of [...this.queues.keys()]) this.pump(id);
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
      // A slot beyond the fair share (another replica waits) or above a pause's cap goes back as soon as it is free.
      this.slots.trim(id, left);
      if (this.running) this.pumpAfter(id);
      if (claimed) {
        this.claimedInFlight--;
        if (++this.freedSinceClaim >= this.refillAt || this.claimedInFlight === 0) this.signal.wake();
      }
    });
    this.sends.add(send);
  }

  /**
   * The request, with tracing on in a client span of the trace the delivery's event came in (its chunk
   * span), whose context it carries to the receiver as `traceparent`: the SIEM's own traces join ours.
   */
  private async send(target: ReadyTarget, delivery: ClaimedDelivery): Promise<SendResult> {
    const request = target.build(delivery, Date.now());
    const { tracing } = this.telemetry;
    if (!tracing.enabled || !delivery.traceparent) return this.sender.send({ url: target.url, ...request });
    if (!isSampled(delivery.traceparent)) {
      // A trace nobody records: no span, its context passed on as it came (the SIEM's own tracing may join it).
      const headers = [...withoutTraceparent(request.headers), ['traceparent', delivery.traceparent] as HeaderPair];
      return this.sender.send({ url: target.url, headers, body: request.body });
    }
    const span = tracing.startSpan(
      'POST streaming destination',
      {
        kind: SpanKind.CLIENT,
        // Ids only: the URL may hold credentials or tokens of the destination's owner.
        attributes: {
          'audit.destination.id': delivery.destinationId,
          'audit.delivery.id': delivery.id,
          'audit.event.type': delivery.eventType,
        },
      },
      tracing.extract(delivery.traceparent),
    );
    const headers = [
      ...withoutTraceparent(request.headers),
      ['traceparent', tracing.traceparent(span) ?? delivery.traceparent] as HeaderPair,
    ];
    try {
      // Not made the active span: nothing logs inside the send, and entering a context per request costs.
      const result = await this.sender.send({ url: target.url, headers, body: request.body });
      if (result.statusCode !== null) span.setAttribute('http.response.status_code', result.statusCode);
      if (result.error) span.setStatus({ code: SpanStatusCode.ERROR, message: result.error });
      return result;
    } finally {
      span.end();
    }
  }

  private async deliverOne(delivery: ClaimedDelivery): Promise<void> {
    try {
      const target = await this.targets.get(delivery.destinationId, delivery.destinationVersion);
      if (!target) return; // deleted or deactivated since the claim: the lease expires, nothing is sent
      const result = await this.send(target, delivery);
      const verdict = classifyAttempt(result.statusCode);
      this.metrics.attempted(verdict, result.latencyMs / 1000);
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
        // The destination is about to be paused: one request at a time here from now on (its probe),
        // until a statement sent after this failure is recorded says otherwise; and its queued
        // deliveries wait for the claim instead.
        this.slots.failed(delivery.destinationId, () => this.recorder.flush());
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

/** A custom header of the destination named `traceparent` gives way to the trace's own. */
const withoutTraceparent = (headers: readonly HeaderPair[]): HeaderPair[] =>
  headers.filter(([name]) => name.toLowerCase() !== 'traceparent');
