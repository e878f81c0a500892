import { Platform } from './platform';

/**
 * Drives release traffic through release-service's public HTTP API and remembers the outcome of
 * every request, each with its own X-Correlation-Id: the correlation id is what ties an accepted
 * action to the domain event it appended and to the audit event the recorder stores.
 */
export interface Action {
  correlationId: string;
  kind: 'create' | 'update';
  /** The audit event type an accepted action must produce. */
  eventType: 'release_created' | 'release_updated';
  projectId: number;
  tag: string;
  name: string;
  status?: number;
  releaseId?: number;
  error?: string;
}

export class LoadDriver {
  readonly accepted: Action[] = [];
  /** 4xx answers: refused, must store nothing. */
  readonly refused: Action[] = [];
  /** 5xx answers and requests that got no answer at all: release-service failed a write. */
  readonly failed: Action[] = [];
  private issued = 0;
  private sequence = 0;
  private halted = false;
  private nextInstance = 0;

  /** `ratePerSecond` paces the clients, so traffic that lasts as long as a fault stays a known size. */
  constructor(
    private readonly platform: Platform,
    private readonly ratePerSecond = Number.POSITIVE_INFINITY,
  ) {
    platform.onStop.push(() => (this.halted = true));
  }

  /** Requests sent so far. */
  get sent(): number {
    return this.issued;
  }

  /**
   * Runs `concurrency` clients until `done()` holds (by default: once `actions` requests were sent).
   * A scenario passes its own `done` to keep traffic flowing until its fault is over.
   */
  async run({
    actions = 0,
    concurrency,
    done = () => this.issued >= actions,
  }: {
    actions?: number;
    concurrency: number;
    done?: () => boolean;
  }): Promise<void> {
    const more = () => !this.halted && !done();
    const started = Date.now();
    const client = async (worker: number) => {
      let previous: Action | undefined;
      for (let i = 0; more(); i += 1) {
        const due = started + (this.issued / this.ratePerSecond) * 1000;
        this.issued += 1;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        // Every other action renames the client's previous release: each client owns its releases, so no 409s here.
        const action = previous && i % 2 === 1 ? this.update(previous) : this.create(worker, i);
        const done = await this.send(action);
        if (done.kind === 'create' && done.status === 201) previous = done;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, (_, w) => client(w)));
  }

  nextCorrelationId(): string {
    this.sequence += 1;
    return `f-${this.platform.suffix}-${this.sequence}`;
  }

  create(worker: number, i: number): Action {
    const project = this.platform.projects[(worker + i) % this.platform.projects.length];
    const tag = `w${worker}-${i}`;
    return {
      correlationId: this.nextCorrelationId(),
      kind: 'create',
      eventType: 'release_created',
      projectId: project.id,
      tag,
      name: `Release ${tag}`,
    };
  }

  update(of: Pick<Action, 'projectId' | 'tag' | 'releaseId'>, name = `Renamed ${of.tag} ${this.sequence + 1}`): Action {
    return {
      correlationId: this.nextCorrelationId(),
      kind: 'update',
      eventType: 'release_updated',
      projectId: of.projectId,
      tag: of.tag,
      releaseId: of.releaseId,
      name,
    };
  }

  /** Round robin over a fleet's release-services in rotation, as a load balancer would. */
  private releaseUrl(): string {
    const urls = this.platform.releaseUrls?.() ?? [this.platform.services['release-service'].url];
    if (urls.length === 0) throw new Error('no release-service in rotation');
    this.nextInstance = (this.nextInstance + 1) % urls.length;
    return urls[this.nextInstance];
  }

  /** Sends one action and files it under accepted, refused or failed. */
  async send(action: Action): Promise<Action> {
    try {
      const base = `${this.releaseUrl()}/api/v4/projects/${action.projectId}/releases`;
      const [url, method, body] =
        action.kind === 'create'
          ? [base, 'POST', { tag_name: action.tag, name: action.name }]
          : [`${base}/${encodeURIComponent(action.tag)}`, 'PUT', { name: action.name }];
      const res = await fetch(url, {
        method,
        headers: {
          Authorization: this.platform.writer,
          'Content-Type': 'application/json',
          'X-Correlation-Id': action.correlationId,
        },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as { id?: number };
      action.status = res.status;
      if (res.ok) action.releaseId = json.id;
      (res.ok ? this.accepted : res.status < 500 ? this.refused : this.failed).push(action);
    } catch (err) {
      action.error = (err as Error).message;
      this.failed.push(action);
    }
    return action;
  }
}
