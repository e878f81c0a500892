/** One slot of a destination as the database knows it. */
export interface SlotRef {
  destinationId: number;
  slot: number;
}

/** What a statement that read a destination's state said about it. */
export interface SlotObservation {
  destinationId: number;
  /** `destination_health.pause_level > 0`: the fleet may run one request at a time there (its probe). */
  paused: boolean;
  /** This process's fair share of the destination's slots: the cap divided among the processes holding or awaiting them. */
  share: number;
}

interface Belief {
  paused: boolean;
  /** Local time of the evidence; Infinity while a local failure is not yet in the database. */
  since: number;
}

/**
 * The delivery slots this process holds, and the gate every send passes (DestinationSlots keeps it
 * in step with the database). Pure: every time is passed in, in this process's clock.
 *
 * A slot is valid until `issued + leaseMs`, where `issued` is when the statement that took or
 * renewed it was sent: the database's lease started no earlier, so the process stops using a slot
 * before any other process can take it, whatever the offset between the two clocks. A slot counts
 * for a new send only while it stays valid for `sendMs` more (the request timeout and a margin).
 *
 * The cap of a destination is DELIVERY_CONCURRENCY_PER_DESTINATION, or 1 while it is paused. What
 * this process believes about the pause comes from the statements that read `destination_health`,
 * each dated by when it was sent, and from its own failed attempts, which count from the moment
 * they are recorded: a statement sent before that cannot say "healthy" over them.
 */
export class SlotBook {
  private readonly held = new Map<number, Map<number, number>>();
  private readonly beliefs = new Map<number, Belief>();
  private readonly shares = new Map<number, number>();
  /** Per destination, its slots under the cap and the earliest end of their validity: the gate runs at every send's end. */
  private readonly summaries = new Map<number, { under: number; validUntil: number }>();

  constructor(private readonly options: { limit: number; leaseMs: number; sendMs: number }) {}

  /** How many requests the destination may have in flight from the whole fleet now. */
  cap(destinationId: number): number {
    return this.beliefs.get(destinationId)?.paused ? 1 : this.options.limit;
  }

  /** Slots this process should hold at most: its fair share, within the cap. */
  share(destinationId: number): number {
    return Math.min(this.shares.get(destinationId) ?? this.options.limit, this.cap(destinationId));
  }

  /** Destinations this process believes paused: statements use their cap of 1 even before the database says so. */
  paused(): number[] {
    return [...this.beliefs].filter(([, b]) => b.paused).map(([id]) => id);
  }

  /** Requests this process may have in flight to the destination now: slots under the cap, valid for a whole send. */
  usable(destinationId: number, now: number): number {
    const summary = this.summary(destinationId);
    if (summary.validUntil - now >= this.options.sendMs) return summary.under;
    const cap = this.cap(destinationId);
    let usable = 0;
    for (const [slot, validUntil] of this.held.get(destinationId) ?? []) {
      if (slot < cap && validUntil - now >= this.options.sendMs) usable++;
    }
    return usable;
  }

  /** Slots held, whatever their number or validity (each in-flight request occupies one). */
  count(destinationId: number): number {
    return this.held.get(destinationId)?.size ?? 0;
  }

  /** How many more slots to ask for, to run `work` requests (in flight and queued) at once. */
  wanted(destinationId: number, work: number): number {
    return Math.max(0, Math.min(work, this.share(destinationId)) - this.summary(destinationId).under);
  }

  destinations(): number[] {
    return [...this.held.keys()];
  }

  all(): SlotRef[] {
    return [...this.held].flatMap(([destinationId, slots]) =>
      [...slots.keys()].map((slot) => ({ destinationId, slot })),
    );
  }

  /** Slots with less than three quarters of their lease left: renewed at the next tick. */
  dueForRenewal(now: number): SlotRef[] {
    const threshold = now + (this.options.leaseMs * 3) / 4;
    return this.all().filter((s) => (this.held.get(s.destinationId)?.get(s.slot) ?? 0) < threshold);
  }

  /** Slots taken or renewed by a statement sent at `issued`. */
  hold(slots: readonly SlotRef[], issued: number): void {
    for (const { destinationId, slot } of slots) {
      let mine = this.held.get(destinationId);
      if (!mine) this.held.set(destinationId, (mine = new Map()));
      mine.set(slot, issued + this.options.leaseMs);
      this.summaries.delete(destinationId);
    }
  }

  /** Slots given up, or found taken by another process (this one could not renew them in time). */
  drop(slots: readonly SlotRef[]): void {
    for (const { destinationId, slot } of slots) {
      const mine = this.held.get(destinationId);
      mine?.delete(slot);
      if (mine?.size === 0) this.held.delete(destinationId);
      this.summaries.delete(destinationId);
    }
  }

  /** What a statement sent at `issued` read; older than this process's own unrecorded failure, it is ignored. */
  observe(observation: SlotObservation, issued: number): void {
    this.shares.set(observation.destinationId, Math.max(1, observation.share));
    this.summaries.delete(observation.destinationId);
    const belief = this.beliefs.get(observation.destinationId);
    if (belief && issued < belief.since) return;
    if (observation.paused) this.beliefs.set(observation.destinationId, { paused: true, since: issued });
    else this.beliefs.delete(observation.destinationId);
  }

  /**
   * An attempt failed here: the destination is about to be paused. Returns a callback to call once
   * the failure is in the database (`AttemptRecorder.flush`), or null when a failure is already
   * pending (nothing new to wait for).
   */
  failed(destinationId: number): ((recordedAt: number) => void) | null {
    const current = this.beliefs.get(destinationId);
    if (current?.paused && current.since === Infinity) return null;
    const belief: Belief = { paused: true, since: Infinity };
    this.beliefs.set(destinationId, belief);
    this.summaries.delete(destinationId);
    return (recordedAt) => {
      if (this.beliefs.get(destinationId) === belief) belief.since = recordedAt;
    };
  }

  /**
   * Slots to give up now, with `inFlight` requests running: never below that (each running request
   * keeps its slot), first those at or above the cap, then any beyond the fair share. Highest first.
   */
  surplus(destinationId: number, inFlight: number): SlotRef[] {
    const mine = this.held.get(destinationId);
    if (!mine || mine.size <= inFlight) return [];
    const cap = this.cap(destinationId);
    const share = this.share(destinationId);
    // Every send end asks: the common answer, under the whole cap and within the share, costs no sort.
    if (cap === this.options.limit && mine.size <= share) return [];
    const out: SlotRef[] = [];
    let kept = mine.size;
    for (const slot of [...mine.keys()].sort((a, b) => b - a)) {
      if (kept <= inFlight || (slot < cap && kept <= share)) break;
      out.push({ destinationId, slot });
      kept--;
    }
    return out;
  }

  private summary(destinationId: number): { under: number; validUntil: number } {
    let summary = this.summaries.get(destinationId);
    if (!summary) {
      const cap = this.cap(destinationId);
      summary = { under: 0, validUntil: Infinity };
      for (const [slot, validUntil] of this.held.get(destinationId) ?? []) {
        if (slot >= cap) continue;
        summary.under++;
        summary.validUntil = Math.min(summary.validUntil, validUntil);
      }
      this.summaries.set(destinationId, summary);
    }
    return summary;
  }
}
