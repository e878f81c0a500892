import { APP_CONFIG } from '@audit/platform';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AuditStreamerConfig } from '../config';
import { SlotBook, SlotObservation, SlotRef } from './slot-book';
import { SlotsRepository } from './slots.repository';

/** A slot is used for a new request only if it stays valid this long after the request's timeout. */
const SEND_MARGIN_MS = 1_000;

/**
 * This process's part of the fleet-wide semaphore of each destination (docs/architecture.md, "The
 * streamer"): DELIVERY_CONCURRENCY_PER_DESTINATION slots per destination in `delivery_slots`, one
 * while it is paused, shared by every replica on the database. The worker sends a request only on a
 * slot held here (`usable`); slots are taken in batches and kept while the worker has work for the
 * destination, so a request costs no statement of its own:
 *
 * - `request`: the worker has more work than usable slots. Requests are coalesced (one acquisition
 *   outstanding per destination, every destination waiting in one statement); a destination that
 *   got fewer than it asked is not asked for again before the next tick.
 * - `tick` (every second at most): renews, in one statement, the slots past a quarter of their lease
 *   (slot lease = 3 × DELIVERY_TIMEOUT_MS + 5 s, the delivery lease), and reads each held
 *   destination's pause and fair share; the worker then gives back what it no longer needs.
 * - `release` (batched), and `stop`, which frees everything this process holds.
 *
 * A process cut from the database stops sending before its slots expire (SlotBook.usable); one that
 * dies leaves them to expire, one slot lease at most. Statements run one at a time, so a release
 * never crosses an acquisition of the same slot.
 */
@Injectable()
export class DestinationSlots {
  private readonly logger = new Logger(DestinationSlots.name);
  /** This process in `delivery_slots.holder`: host, pid and a random part, so even two processes of one host and pid (a restart) differ. */
  readonly holder: string;
  readonly leaseMs: number;
  readonly tickMs: number;
  private readonly limit: number;
  private readonly book: SlotBook;
  private readonly wants = new Map<number, number>();
  private readonly acquiring = new Set<number>();
  /** Asked and got fewer than wanted: asked again at the next tick, not at every offer. */
  private readonly short = new Set<number>();
  private toRelease: SlotRef[] = [];
  private acquireScheduled = false;
  private releaseScheduled = false;
  private statements: Promise<void> = Promise.resolve();
  private acquired: (destinationIds: number[]) => void = () => undefined;
  private stopped = false;

  constructor(
    @Inject(APP_CONFIG) config: AuditStreamerConfig,
    private readonly repository: SlotsRepository,
  ) {
    this.holder = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.leaseMs = config.DELIVERY_TIMEOUT_MS * 3 + 5_000;
    this.tickMs = Math.min(1_000, Math.floor(this.leaseMs / 4));
    this.limit = config.DELIVERY_CONCURRENCY_PER_DESTINATION;
    this.book = new SlotBook({
      limit: this.limit,
      leaseMs: this.leaseMs,
      sendMs: config.DELIVERY_TIMEOUT_MS + SEND_MARGIN_MS,
    });
  }

  /** The worker's callback: these destinations were just asked for (granted slots, or fewer than wanted). */
  onAcquired(callback: (destinationIds: number[]) => void): void {
    this.acquired = callback;
  }

  usable(destinationId: number, now = Date.now()): number {
    return this.book.usable(destinationId, now);
  }

  /**
   * Destinations this process asked slots for since the last tick and holds none usable of: other
   * replicas hold them, so work for them is better left to the claim (which those replicas run).
   */
  starved(now = Date.now()): number[] {
    return [...this.short].filter((id) => !this.acquiring.has(id) && this.book.usable(id, now) === 0);
  }

  destinations(): number[] {
    return this.book.destinations();
  }

  /** Destinations this process believes paused, for the claim's cap. */
  paused(): number[] {
    return this.book.paused();
  }

  observe(observation: SlotObservation, issued: number): void {
    this.book.observe(observation, issued);
  }

  /** The worker has `work` requests (in flight and queued) for the destination and too few slots. */
  request(destinationId: number, work: number): void {
    if (this.stopped || this.acquiring.has(destinationId) || this.short.has(destinationId)) return;
    const want = this.book.wanted(destinationId, work);
    if (want <= 0) return;
    this.wants.set(destinationId, want);
    if (this.acquireScheduled) return;
    this.acquireScheduled = true;
    // One statement for every destination asking during this turn of the event loop.
    setImmediate(() => {
      this.acquireScheduled = false;
      void this.serial(() => this.acquire());
    });
  }

  /** A failed attempt here: the destination is treated as paused until a statement sent after its recording says otherwise. */
  failed(destinationId: number, recorded: () => Promise<void>): void {
    const settle = this.book.failed(destinationId);
    if (settle) void recorded().then(() => settle(Date.now()));
  }

  /** Slots to give up with `inFlight` requests running (beyond the fair share, or above the cap of a pause). */
  trim(destinationId: number, inFlight: number): void {
    this.release(this.book.surplus(destinationId, inFlight));
  }

  /** Every slot of the destination (the worker has had no work for it for a while). */
  releaseAll(destinationId: number): void {
    this.release(this.book.all().filter((s) => s.destinationId === destinationId));
  }

  /** Renews what is due, reads pauses and shares; then the worker trims and asks again. */
  async tick(): Promise<void> {
    this.short.clear();
    const held = this.book.destinations();
    if (held.length === 0) return;
    await this.serial(async () => {
      const issued = Date.now();
      const due = this.book.dueForRenewal(issued);
      try {
        const rows = await this.repository.maintain(
          this.holder,
          this.limit,
          this.leaseMs,
          held,
          due,
          this.book.paused(),
        );
        const renewed = new Set<string>();
        for (const row of rows) {
          this.book.observe(row, issued);
          for (const slot of row.renewed) renewed.add(`${row.destinationId}:${slot}`);
        }
        this.book.hold(
          due.filter((s) => renewed.has(`${s.destinationId}:${s.slot}`)),
          issued,
        );
        const lost = due.filter((s) => !renewed.has(`${s.destinationId}:${s.slot}`));
        if (lost.length > 0) {
          this.book.drop(lost);
          this.logger.warn(
            { slots: lost.length },
            'delivery slots lost: expired and taken by another process, or their destination deleted',
          );
        }
      } catch (err) {
        // Slots not renewed stop counting before they expire (SlotBook.usable): nothing is oversent.
        this.logger.error({ err }, 'could not renew delivery slots');
      }
    });
  }

  /** At a stop, after the last request ended: frees every slot and wait of this process. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.serial(async () => {
      try {
        await this.repository.releaseAll(this.holder);
      } catch (err) {
        this.logger.error({ err }, 'could not release delivery slots; they expire on their own');
      }
    });
    this.book.drop(this.book.all());
  }

  private release(slots: SlotRef[]): void {
    if (slots.length === 0) return;
    this.book.drop(slots);
    this.toRelease.push(...slots);
    if (this.releaseScheduled) return;
    this.releaseScheduled = true;
    setImmediate(() => {
      this.releaseScheduled = false;
      void this.serial(() => this.flushReleases());
    });
  }

  private async flushReleases(): Promise<void> {
    const slots = this.toRelease;
    this.toRelease = [];
    if (slots.length === 0) return;
    const done = [...new Set(slots.map((s) => s.destinationId))].filter((id) => this.book.count(id) === 0);
    try {
      await this.repository.release(this.holder, slots, done);
    } catch (err) {
      this.logger.error({ err, slots: slots.length }, 'could not release delivery slots; they expire on their own');
    }
  }

  private async acquire(): Promise<void> {
    if (this.stopped || this.wants.size === 0) return;
    const requests = [...this.wants].map(([destinationId, want]) => ({
      destinationId,
      want,
      paused: this.book.cap(destinationId) === 1,
    }));
    this.wants.clear();
    for (const r of requests) this.acquiring.add(r.destinationId);
    const issued = Date.now();
    try {
      const answers = new Map(
        (await this.repository.acquire(this.holder, this.limit, this.leaseMs, this.tickMs * 3, requests)).map((a) => [
          a.destinationId,
          a,
        ]),
      );
      for (const { destinationId, want } of requests) {
        const answer = answers.get(destinationId);
        if (answer) {
          this.book.observe(answer, issued);
          this.book.hold(
            answer.slots.map((slot) => ({ destinationId, slot })),
            issued,
          );
        }
        if (!answer || answer.slots.length < want) this.short.add(destinationId);
      }
    } catch (err) {
      for (const r of requests) this.short.add(r.destinationId);
      this.logger.error({ err }, 'could not acquire delivery slots');
    } finally {
      for (const r of requests) this.acquiring.delete(r.destinationId);
    }
    this.acquired(requests.map((r) => r.destinationId));
  }

  private serial(statement: () => Promise<void>): Promise<void> {
    this.statements = this.statements
      .then(statement)
      .catch((err: unknown) => this.logger.error({ err }, 'delivery slot bookkeeping failed'));
    return this.statements;
  }
}
