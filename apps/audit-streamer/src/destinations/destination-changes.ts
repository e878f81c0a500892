import { DomainEvent } from '@audit/contracts';
import { Outbox } from '@audit/outbox';
import { Database, OrmTransaction } from '@audit/platform';
import { retryTransient } from '@audit/sql';
import { Injectable } from '@nestjs/common';

/** What a change did (its answer to the caller) and the domain events that record it. */
export interface Change<T> {
  result: T;
  events: Array<DomainEvent | null>;
}

/**
 * Every change to streaming configuration goes through here: the change and the outbox rows of its
 * events commit in one transaction (so an event is published if and only if the change happened);
 * Outbox.append signals the relays at commit.
 */
@Injectable()
export class DestinationChanges {
  constructor(
    private readonly database: Database,
    private readonly outbox: Outbox,
  ) {}

  commit<T>(work: (tx: OrmTransaction) => Promise<Change<T>>): Promise<T> {
    // A deadlock with the delivery worker (a delete cascading to its deliveries) rolls back the whole change: run it again.
    return retryTransient(() =>
      this.database.transaction(async (tx) => {
        const change = await work(tx);
        await this.outbox.append(
          tx,
          change.events.filter((e): e is DomainEvent => e !== null),
        );
        return change.result;
      }),
    );
  }
}
