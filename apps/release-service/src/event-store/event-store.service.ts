import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { Inject, Injectable } from '@nestjs/common';
import { DomainEvent, DomainEventType, messageKeyFor, Scope } from '@audit/contracts';
import { APP_CONFIG, ConflictError, LoadedConfig } from '@audit/platform';
import { CommandMetadata, envelope } from './envelope';

/** The NOTIFY channel an append signals on; the outbox relay LISTENs to it. */
export const OUTBOX_CHANNEL = 'outbox_appended';

/** Another writer appended to the stream first: the caller's decision was made on stale state. */
export class VersionConflictError extends ConflictError {}

/** What an event-sourced command needs: its stream, the aggregate's pure functions, the scope. */
export interface Aggregate<S, E extends { type: DomainEventType }, C> {
  type: string;
  id: number;
  scope: Scope;
  initial: () => S;
  evolve: (state: S, event: E) => S;
  decide: (command: C, state: S) => E[];
  /** Events `evolve` ignores; they are not loaded (see `load`). */
  skipTypes?: readonly string[];
  /** A stream just given a fresh id has no past: skip reading it. */
  fresh?: boolean;
}

export type IdSequence = 'group_ids' | 'project_ids' | 'milestone_ids' | 'release_ids' | 'link_ids' | 'evidence_ids';

/**
 * Append-only event streams with optimistic concurrency. The same statement writes the outbox,
 * so an event is published if and only if it was stored. Raw SQL here: an append is one round
 * trip whose unique violations carry meaning (version conflict), which the unit of work hides.
 */
@Injectable()
export class EventStore {
  constructor(@Inject(APP_CONFIG) private readonly config: LoadedConfig) {}

  /** Appends `events` to `streamId` if its current version is `expectedVersion`; else VersionConflictError. */
  async append(em: EntityManager, streamId: string, expectedVersion: number, events: DomainEvent[]): Promise<number> {
    if (events.length === 0) return expectedVersion;
    const rows = events.map(() => '(?, ?, ?, ?, ?)').join(', ');
    const outboxRows = events.map(() => '(?, ?, ?, ?)').join(', ');
    const bindings = [
      ...events.flatMap((e, i) => [streamId, expectedVersion + i + 1, e.id, e.type, JSON.stringify(e)]),
      ...events.flatMap((e) => [e.id, this.config.KAFKA_TOPIC, messageKeyFor(e.scope), JSON.stringify(e)]),
    ];
    try {
      // Data-modifying CTEs all run, in one statement; the NOTIFY is delivered at commit to every
      // relay listening, in any instance, so the publisher wakes at once.
      await em.execute(
        `with appended as (insert into event_store (stream_id, stream_version, event_id, event_type, payload) values ${rows}),
              queued as (insert into outbox (event_id, topic, message_key, payload) values ${outboxRows})
         select pg_notify('${OUTBOX_CHANNEL}', '')`,
        bindings,
      );
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException && /event_store_stream_version/.test(err.message)) {
        throw new VersionConflictError(`${streamId} was changed concurrently (expected version ${expectedVersion}); retry`);
      }
      throw err;
    }
    return expectedVersion + events.length;
  }

  /**
   * A stream's current version and its events in order, for rebuilding state with `evolve`.
   * `skipTypes` are events `evolve` ignores: they count for the version but are not loaded.
   */
  async load(em: EntityManager, streamId: string, skipTypes: readonly string[] = []): Promise<{ version: number; events: DomainEvent[] }> {
    const [row] = await em.execute<Array<{ version: number; events: DomainEvent[] }>>(
      `select coalesce(max(stream_version), 0)::int as version,
              coalesce(jsonb_agg(payload order by stream_version) filter (where event_type <> all (string_to_array(?, ','))), '[]'::jsonb) as events
         from event_store where stream_id = ?`,
      [skipTypes.join(','), streamId],
    );
    return row;
  }

  /**
   * The event-sourcing loop: rebuild state from the stream, decide, wrap each event in its
   * envelope (validated against the shared schema), append with the expected version.
   */
  async handle<S, E extends { type: DomainEventType; data: unknown }, C>(em: EntityManager, aggregate: Aggregate<S, E, C>, command: C, meta: CommandMetadata): Promise<DomainEvent[]> {
    const streamId = `${aggregate.type}-${aggregate.id}`;
    const past = aggregate.fresh ? { version: 0, events: [] } : await this.load(em, streamId, aggregate.skipTypes);
    const state = (past.events as unknown as E[]).reduce(aggregate.evolve, aggregate.initial());
    const events = aggregate.decide(command, state).map((e, i) =>
      envelope(e.type, e.data as never, { type: aggregate.type, id: String(aggregate.id), version: past.version + i + 1 }, aggregate.scope, meta),
    );
    await this.append(em, streamId, past.version, events);
    return events;
  }

  async nextId(em: EntityManager, sequence: IdSequence): Promise<number> {
    const [row] = await em.execute<Array<{ id: string }>>(`select nextval('${sequence}') as id`);
    return Number(row.id);
  }
}
