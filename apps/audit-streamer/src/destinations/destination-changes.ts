import { DomainEvent } from '@audit/contracts';
import { OUTBOX_CHANNEL, outboxInsert, OutboxRelay } from '@audit/outbox';
import { APP_CONFIG, retryTransient } from '@audit/platform';
import { EntityManager } from '@mikro-orm/postgresql';
import { Inject, Injectable } from '@nestjs/common';
import { AuditStreamerConfig } from '../app/config';
import { DestinationsRepository } from './destinations.repository';

/** What a change did (its answer to the caller) and the domain events that record it. */
export interface Change<T> {
  result: T;
  events: Array<DomainEvent | null>;
}

/**
 * Every change to streaming configuration goes through here: the change and the outbox rows of its
 * events commit in one transaction (so an event is published if and only if the change happened), the
 * NOTIFY fires at commit, and the relay is woken in this process too.
 */
@Injectable()
export class DestinationChanges {
  constructor(
    private readonly repository: DestinationsRepository,
    private readonly relay: OutboxRelay,
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
  ) {}

  async commit<T>(work: (tx: EntityManager) => Promise<Change<T>>): Promise<T> {
    // A deadlock with the delivery worker (a delete cascading to its deliveries) rolls back the whole change: run it again.
    const { result, published } = await retryTransient(() =>
      this.repository.transactional(async (tx) => {
        const change = await work(tx);
        const events = change.events.filter((e): e is DomainEvent => e !== null);
        if (events.length > 0) {
          const insert = outboxInsert(this.config.KAFKA_TOPIC, events);
          await tx.execute(`with queued as (${insert.sql}) select pg_notify('${OUTBOX_CHANNEL}', '')`, insert.params);
        }
        return { result: change.result, published: events.length };
      }),
    );
    if (published > 0) this.relay.wake();
    return result;
  }
}
