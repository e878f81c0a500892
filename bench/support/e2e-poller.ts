/**
 * The end-to-end benchmark's reader: polls for audit events the way an operator's tool tailing the
 * query API would (ascending, created_after, keyset pages of 100), and stamps the first time each
 * action's audit event is seen.
 *
 * Where each poll starts: a row becomes visible when the recorder's chunk commits, not in
 * created_at order (two creates racing in one project commit in either order; partitions are
 * consumed independently), so a cursor kept from the previous poll could step over a row that
 * commits late. Each poll therefore starts again at the scheduled time of the oldest action not yet
 * seen (created_at, the release-service's clock at the request, is never earlier; MARGIN_MS covers
 * clock rounding), capped at OVERLAP_MS behind the newest row seen so one stuck action does not make
 * every poll re-read everything after it; a sweep every SWEEP_MS starts at the oldest action anyway.
 * Granularity: a stamp is late by up to one poll interval plus one poll's duration (and up to
 * SWEEP_MS for a row that committed more than OVERLAP_MS out of order).
 */
import { Tracker } from './e2e-load';
import { log, sleep } from './run';

export interface SeenEvent {
  correlationId?: string;
  /** created_at, ms since epoch. */
  createdAt: number;
}

export interface Page<C> {
  events: SeenEvent[];
  next?: C;
}

/** One page of audit events created at or after `after` (ISO 8601), ascending, from `cursor` on. */
export type PageSource<C> = (after: string, cursor: C | undefined) => Promise<Page<C>>;

const MARGIN_MS = 50;
const OVERLAP_MS = 1000;
const SWEEP_MS = 500;

export interface PollerStats {
  polls: number;
  requests: number;
  rows: number;
  errors: number;
}

export class Poller<C> {
  readonly stats: PollerStats = { polls: 0, requests: 0, rows: 0, errors: 0 };
  private running = false;
  private loop?: Promise<void>;
  private newest = 0;
  private lastSweep = 0;

  constructor(
    private readonly source: PageSource<C>,
    private readonly tracker: Tracker,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const oldest = this.tracker.oldestAwaited();
      if (oldest !== undefined)
        await this.poll(performance.timeOrigin + oldest).catch((err: Error) => this.failed(err));
      await sleep(this.intervalMs);
    }
  }

  private failed(err: Error): void {
    if (this.stats.errors++ < 5) log(`poller: ${err.message}`);
  }

  private async poll(oldestWallMs: number): Promise<void> {
    const now = performance.now();
    const sweep = now - this.lastSweep >= SWEEP_MS;
    if (sweep) this.lastSweep = now;
    const from = sweep ? oldestWallMs - MARGIN_MS : Math.max(oldestWallMs - MARGIN_MS, this.newest - OVERLAP_MS);
    const after = new Date(Math.floor(from)).toISOString();
    this.stats.polls += 1;
    let cursor: C | undefined;
    do {
      const page = await this.source(after, cursor);
      const at = performance.now();
      this.stats.requests += 1;
      this.stats.rows += page.events.length;
      for (const e of page.events) {
        this.tracker.queryable(e.correlationId, at);
        if (e.createdAt > this.newest) this.newest = e.createdAt;
      }
      cursor = page.next;
    } while (cursor !== undefined && this.running);
  }
}
