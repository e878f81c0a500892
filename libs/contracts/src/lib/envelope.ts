import { Actor, AggregateRef, Scope } from './domain-event';
import { DomainEvent, DomainEventOf, DomainEventSchemas, DomainEventType } from './domain-event-types';
import { randomUUID } from 'node:crypto';

/** Who, from where, when and why: taken from the request at the edge, passed into commands. Shared by every producer of domain events. */
export interface CommandMetadata {
  actor: Actor;
  correlationId: string;
  now: Date;
}

/**
 * Wraps a decided event in the envelope of docs/contracts.md and validates it against its type's
 * schema, so nothing malformed is ever appended, let alone published.
 */
export function envelope<T extends DomainEventType>(
  type: T,
  data: DomainEventOf<T>['data'],
  aggregate: AggregateRef,
  scope: Scope,
  meta: CommandMetadata,
): DomainEvent {
  return DomainEventSchemas[type].parse({
    id: randomUUID(),
    type,
    schema_version: 1,
    occurred_at: meta.now.toISOString(),
    aggregate,
    actor: meta.actor,
    scope,
    correlation_id: meta.correlationId,
    data,
  }) as DomainEvent;
}
