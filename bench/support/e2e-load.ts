/**
 * Open-loop load of the end-to-end benchmark: actions (release creates and updates) fired at their
 * scheduled times whatever the system's state, each latency measured from the scheduled time, so a
 * stall shows as the latency of every action scheduled during it (no coordinated omission). Each
 * action carries its own X-Correlation-Id, which the audit event repeats in details.correlation_id:
 * that is how the poller and the receiver find an action's audit event.
 */
import { sleep } from './run';

export interface ReleaseRef {
  /** Index into the pipeline's projects. */
  project: number;
  tag: string;
  /** Set by a pipeline that needs it for the update (the floor). */
  id?: number;
}

export interface Action {
  n: number;
  kind: 'create' | 'update';
  release: ReleaseRef;
  correlationId: string;
  /** performance.now() at which the action was due. */
  scheduledAt: number;
  writtenAt?: number;
  failed?: string;
  queryableAt?: number;
  deliveredAt?: number;
}

/** The two sides a pipeline is: where actions are written, and how its audit events are read back. */
export interface Pipeline {
  label: string;
  projects: number;
  /** Its processes, whose CPU each step reports. */
  pids: Record<string, number | undefined>;
  /** Resolves once the write is durable (HTTP 201/200, or the floor's COMMIT); throws on failure. */
  write(action: Action): Promise<void>;
}

/** Every action of a run by correlation id; the poller and the receiver stamp them. */
export class Tracker {
  private readonly byId = new Map<string, Action>();
  /** Actions in schedule order not yet queryable (or failed / abandoned), oldest first. */
  private readonly open: Action[] = [];
  private head = 0;

  add(action: Action): void {
    this.byId.set(action.correlationId, action);
    this.open.push(action);
  }

  queryable(correlationId: string | undefined, at: number): void {
    const a = correlationId === undefined ? undefined : this.byId.get(correlationId);
    if (a && a.queryableAt === undefined) a.queryableAt = at;
  }

  delivered(correlationId: string | undefined, at: number): void {
    const a = correlationId === undefined ? undefined : this.byId.get(correlationId);
    if (a && a.deliveredAt === undefined) a.deliveredAt = at;
  }

  /** Scheduled time of the oldest action still awaited by the poller, or undefined when none is. */
  oldestAwaited(): number | undefined {
    while (this.head < this.open.length && done(this.open[this.head])) this.head += 1;
    if (this.head > 10_000) {
      this.open.splice(0, this.head);
      this.head = 0;
    }
    return this.open[this.head]?.scheduledAt;
  }

  /** Stops waiting for these actions (a step's deadline passed): what is missing stays missing. */
  abandon(actions: Action[]): void {
    for (const a of actions) if (!done(a)) a.failed ??= 'abandoned';
  }
}

/** Nothing more to wait for: seen, or its write failed (no event will come), or abandoned. */
const done = (a: Action) => a.queryableAt !== undefined || a.failed !== undefined;

/**
 * Chooses what action n does: every other action updates the oldest release whose create has
 * completed and that was not updated yet (one update per release, so no 409 from a concurrent
 * writer); otherwise it creates a release, spread round-robin over the projects.
 */
export class ActionPlan {
  private readonly updatable: ReleaseRef[] = [];
  private next = 0;

  constructor(
    private readonly prefix: string,
    private readonly projects: number,
  ) {}

  make(scheduledAt: number): Action {
    const n = this.next++;
    const correlationId = `${this.prefix}-${n}`;
    const target = n % 2 === 1 ? this.updatable.shift() : undefined;
    if (target) return { n, kind: 'update', release: target, correlationId, scheduledAt };
    return { n, kind: 'create', release: { project: n % this.projects, tag: `t${n}` }, correlationId, scheduledAt };
  }

  /** A create completed: its release may be updated from now on. */
  created(action: Action): void {
    if (action.kind === 'create') this.updatable.push(action.release);
  }
}

/**
 * Fires `rate` actions per second for `seconds`, each at its scheduled time (checked every ~1 ms,
 * so an action leaves at most ~1-2 ms late; the latency still counts from the schedule). Returns
 * the actions, once every write has settled.
 */
export async function openLoop(
  pipeline: Pipeline,
  plan: ActionPlan,
  tracker: Tracker,
  rate: number,
  seconds: number,
): Promise<Action[]> {
  const total = Math.round(rate * seconds);
  const actions: Action[] = [];
  const writes: Promise<void>[] = [];
  const t0 = performance.now();
  while (actions.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    while (actions.length < due) {
      const action = plan.make(t0 + (actions.length * 1000) / rate);
      actions.push(action);
      tracker.add(action);
      writes.push(
        pipeline.write(action).then(
          () => {
            action.writtenAt = performance.now();
            plan.created(action);
          },
          (err: Error) => {
            action.failed = err.message.slice(0, 300);
          },
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(writes);
  return actions;
}
