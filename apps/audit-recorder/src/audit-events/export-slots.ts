import { TooManyRequestsError } from '@audit/platform';

/** Seconds a refused export is asked to wait: a typical export (≈160,000 rows/s) is over by then. */
export const EXPORT_RETRY_AFTER_S = 5;

/**
 * How many exports run at once, per user and in this instance. An export holds a batch of rows in
 * memory and a share of the database while it streams: 40 concurrent 300,000-row exports took the
 * recorder from 115 to 462 MB and its list latency to 4.7 s. Counting is local to the process, as
 * the memory it protects is.
 */
export class ExportSlots {
  private running = 0;
  private readonly perUser = new Map<number, number>();

  constructor(
    private readonly maxInInstance: number,
    private readonly maxPerUser: number,
  ) {}

  /** A slot for `userId`, released by calling the returned function (once; later calls do nothing). */
  acquire(userId: number): () => void {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= this.maxPerUser) {
      throw new TooManyRequestsError(
        `At most ${this.maxPerUser} exports per user at a time; try again when one has finished`,
        EXPORT_RETRY_AFTER_S,
      );
    }
    if (this.running >= this.maxInInstance) {
      throw new TooManyRequestsError(
        `The service is running its maximum of ${this.maxInInstance} exports; try again shortly`,
        EXPORT_RETRY_AFTER_S,
      );
    }
    this.running++;
    this.perUser.set(userId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left > 0) this.perUser.set(userId, left);
      else this.perUser.delete(userId);
    };
  }

  /** Exports running now, in all and for one user (for tests and logs). */
  inUse(userId?: number): number {
    return userId === undefined ? this.running : (this.perUser.get(userId) ?? 0);
  }
}
