import { Inject, Injectable } from '@nestjs/common';
import { CommandMetadata, DomainEvent, DomainEventType, envelope, Scope } from '@audit/contracts';
import { OUTBOX_CHANNEL, outboxInsert } from '@audit/outbox';
import { APP_CONFIG, ConflictError, LoadedConfig } from '@audit/platform';
import { isUniqueViolation, Sql } from './write-database';

/** Another writer appended to the stream first: the caller's decision was made on stale state. */
export class VersionConflictError extends ConflictError {}

/** A read-model write that rides in the append's statement; `?` placeholders, numbered on composition. */
export interface Statement {
  sql: string;
  params: unknown[];
}

/** What an event-sourced command needs: its stream, the aggregate's pure functions, the scope. */
export interface Aggregate<S, E extends { type: DomainEventType }, C> {
  type: string;
  id: number;
  scope: Scope;
  initial: () => S;
  evolve: (state: S, event: E) => S;
  decide: (command: C, state: S) => E[];
  /** Read-model writes for the appended events, given the state after them. */
  project: (events: DomainEvent[], state: S) => Statement[];
  /** Events `evolve` ignores; they are not loaded (see `load`). */
  skipTypes?: readonly string[];
  /** A stream just given a fresh id has no past: skip reading it. */
  fresh?: boolean;
}

/**
 * Append-only event streams with optimistic concurrency. One statement appends the events, queues
 * them in the outbox, applies the read-model writes and NOTIFYs the relay: an event is published
 * if and only if it was stored, and readers never see a read model ahead of or behind its stream.
 */
@Injectable()
export class EventStore {
  constructor(@Inject(APP_CONFIG) private readonly config: LoadedConfig) {}

  /**
   * The event-sourcing loop: rebuild state from the stream, decide, wrap each event in its
   * envelope (validated against the shared schema), append with the expected version.
   */
  async handle<S, E extends { type: DomainEventType; data: unknown }, C>(
    sql: Sql,
    aggregate: Aggregate<S, E, C>,
    command: C,
    meta: CommandMetadata,
  ): Promise<{ events: DomainEvent[]; state: S }> {
    const streamId = `${aggregate.type}-${aggregate.id}`;
    const past = aggregate.fresh ? { version: 0, events: [] } : await this.load(sql, streamId, aggregate.skipTypes);
    const state = (past.events as unknown as E[]).reduce(aggregate.evolve, aggregate.initial());
    const decided = aggregate.decide(command, state);
    const events = decided.map((e, i) =>
      envelope(
        e.type,
        e.data as never,
        { type: aggregate.type, id: String(aggregate.id), version: past.version + i + 1 },
        aggregate.scope,
        meta,
      ),
    );
    const after = decided.reduce(aggregate.evolve, state);
    await this.append(sql, streamId, past.version, events, aggregate.project(events, after));
    return { events, state: after };
  }

  /** Appends `events` to `streamId` if its current version is `expectedVersion`; else VersionConflictError. */
  async append(
    sql: Sql,
    streamId: string,
    expectedVersion: number,
    events: DomainEvent[],
    alsoWrite: Statement[] = [],
  ): Promise<number> {
    if (events.length === 0) return expectedVersion;
    const payloads = events.map((e) => JSON.stringify(e));
    const statements: Statement[] = [
      {
        sql: `insert into event_store (stream_id, stream_version, event_id, event_type, payload) values ${events.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
        params: events.flatMap((e, i) => [streamId, expectedVersion + i + 1, e.id, e.type, payloads[i]]),
      },
      outboxInsert(this.config.KAFKA_TOPIC, events, payloads),
      ...alsoWrite,
    ];
    try {
      // Data-modifying CTEs all run, atomically, in one round trip; the NOTIFY is delivered at
      // commit to every relay listening, in any instance, so the publisher wakes at once.
      await sql.query(...compose(statements, `select pg_notify('${OUTBOX_CHANNEL}', '')`));
    } catch (err) {
      if (isUniqueViolation(err, 'event_store_stream_version')) {
        throw new VersionConflictError(
          `${streamId} was changed concurrently (expected version ${expectedVersion}); retry`,
        );
      }
      throw err;
    }
    return expectedVersion + events.length;
  }

  /**
   * A stream's current version and its events in order, for rebuilding state with `evolve`.
   * `skipTypes` are events `evolve` ignores: they count for the version but are not loaded.
   */
  async load(
    sql: Sql,
    streamId: string,
    skipTypes: readonly string[] = [],
  ): Promise<{ version: number; events: DomainEvent[] }> {
    const [row] = await sql.query<{ version: number; events: DomainEvent[] }>(
      `select coalesce(max(stream_version), 0)::int as version,
              coalesce(jsonb_agg(payload order by stream_version) filter (where event_type <> all ($2::text[])), '[]'::jsonb) as events
         from event_store where stream_id = $1`,
      [streamId, skipTypes],
    );
    return row;
  }
}

/** `with s1 as (...), s2 as (...) <final>`, with every `?` renumbered to `$n` across the statements. */
function compose(statements: Statement[], final: string): [string, unknown[]] {
  let n = 0;
  const ctes = statements.map((s, i) => `s${i} as (${s.sql.replace(/\?/g, () => `$${++n}`)})`);
  return [`with ${ctes.join(', ')} ${final}`, statements.flatMap((s) => s.params)];
}
