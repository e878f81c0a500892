/**
 * The "sleep until there is work or the poll interval passes" of background loops (outbox relay,
 * delivery worker). A wake-up that arrives while the loop is busy is remembered, so the next wait
 * returns at once and no signal is lost between a round and the sleep after it.
 */
export class Wakeup {
  private pending = false;
  private release: (() => void) | null = null;

  wake(): void {
    if (this.release) this.release();
    else this.pending = true;
  }

  /** Resolves after `ms`, or as soon as `wake()` is called (or was called since the last wait). */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.release = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.release = done;
    });
  }
}
