import { ConflictError, NotFoundError, Principal } from '@audit/platform';
import { retryTransient } from '@audit/sql';
import { Injectable, Logger } from '@nestjs/common';
import { DeliverySignal } from '../dispatch/delivery-signal';
import { DestinationsService } from '../destinations/destinations.service';
import { GroupAccess } from '../destinations/group-access.service';
import { DeliveryLogRepository } from './delivery-log.repository';
import { DeliveryLogQuery, DeliveryLogView, isNumericId, ReplayInput } from './delivery-log.schemas';

/** Whose destination: a top-level group's (by id or path), or the instance's (null). */
export type DestinationScope = { groupIdOrPath: string } | null;

/**
 * The delivery log, retry and replay of one destination. Access is the destinations' own: owners
 * of the top-level group (GroupAccess), admins for instance-level destinations.
 */
@Injectable()
export class DeliveryLogService {
  private readonly logger = new Logger(DeliveryLogService.name);

  constructor(
    private readonly access: GroupAccess,
    private readonly destinations: DestinationsService,
    private readonly log: DeliveryLogRepository,
    private readonly signal: DeliverySignal,
  ) {}

  async list(scope: DestinationScope, destinationId: string, query: DeliveryLogQuery, principal: Principal) {
    const destination = await this.destinationOf(scope, destinationId, principal);
    return this.log.list(destination, query);
  }

  async retry(
    scope: DestinationScope,
    destinationId: string,
    deliveryId: string,
    principal: Principal,
  ): Promise<DeliveryLogView> {
    const destination = await this.destinationOf(scope, destinationId, principal);
    const id = isNumericId(deliveryId) ? Number(deliveryId) : null;
    const current = id === null ? null : await this.log.find(destination, id);
    if (!current || id === null) throw new NotFoundError('Delivery not found');
    if (!(await this.log.retryNow(destination, id))) {
      throw new ConflictError('the delivery was delivered already; use replay to send it again');
    }
    this.logger.log(
      { destinationId: destination, deliveryId: id, userId: principal.userId },
      'delivery retry requested',
    );
    this.signal.wake();
    return (await this.log.find(destination, id)) as DeliveryLogView;
  }

  async replay(
    scope: DestinationScope,
    destinationId: string,
    input: ReplayInput,
    principal: Principal,
  ): Promise<{ replayed: number; since: string }> {
    const destination = await this.destinationOf(scope, destinationId, principal);
    const since = new Date(input.since).toISOString();
    // One UPDATE over every delivery of the destination: replays of one destination take turns (two of them
    // lock the same rows in different orders), and a deadlock with the worker's batch updates rolls it
    // back whole, so it runs again rather than answering a 500.
    const replayed = await this.oneAtATime(destination, () =>
      retryTransient(() => this.log.replaySince(destination, since), 8),
    );
    this.logger.log({ destinationId: destination, since, replayed, userId: principal.userId }, 'deliveries replayed');
    if (replayed > 0) this.signal.wake();
    return { replayed, since };
  }

  private readonly replaying = new Map<number, Promise<unknown>>();

  private async oneAtATime<T>(destination: number, work: () => Promise<T>): Promise<T> {
    const previous = this.replaying.get(destination) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(work);
    this.replaying.set(destination, mine);
    try {
      return await mine;
    } finally {
      if (this.replaying.get(destination) === mine) this.replaying.delete(destination);
    }
  }

  /** The destination's id, once the caller may see its log: the destinations' own lookup and 404. */
  private async destinationOf(scope: DestinationScope, destinationId: string, principal: Principal): Promise<number> {
    const owner = scope ? await this.access.group(scope.groupIdOrPath, principal) : this.access.instance(principal);
    return (await this.destinations.destinationOf(owner, destinationId)).id;
  }
}
