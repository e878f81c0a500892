import { Injectable } from '@nestjs/common';
import { DomainEvent } from '@audit/contracts';
import { ConflictError } from '@audit/kernel';
import { Outbox } from '@audit/outbox';
import { isUniqueViolation, Sql, Statement } from '@audit/sql';

/** Another writer appended to the stream first: the caller's decision was made on stale state. */
export class VersionConflictError extends ConflictError {}

/** A stream as read: its current version and the events `evolve` needs, in order. */
export interface StreamState {
  version: number;
  events: DomainEvent[];
}

/** The stream of one aggregate instance, e.g. `Release-42`. */
export const streamIdOf = (aggregateType: string, aggregateId: number | string): string =>
  `${aggregateType}-${aggregateId}`;

/** The INSERT of `events` into the event store at `expectedVersion + 1 ...`, with `$n` placeholders. */
export function eventStoreInsert(
  streamId: string,
  expectedVersion: number,
  events: readonly DomainEvent[],
  payloads: readonly string[],
): Statement {
  return {
    text: `insert into event_store (stream_id, stream_version, event_id, event_type, payload) values ${events
      .map((_, i) => `($${i * 5 + 1}, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5})`)
      .join(', ')}`,
    params: events.flatMap((e, i) => [streamId, expectedVersion + i + 1, e.id, e.type, payloads[i]]),
  };
}

/**
 * Append-only event streams with optimistic concurrency. An append is one statement, through the
 * outbox: the events go into the stream and into the outbox, the read-model writes given as
 * `alongside` ride along as CTEs, and the relay is NOTIFYed and woken at commit. An event is
 * published if and only if it was stored, and readers never see a read model ahead of or behind
 * its stream.
 */
@Injectable()
export class EventStore {
  constructor(private readonly outbox: Outbox) {}

  /**
   * A stream's current version and its events in order, for rebuilding state with `evolve`.
   * `skipTypes` are events `evolve` ignores: they count for the version but are not loaded.
   */
  async read(sql: Sql, streamId: string, skipTypes: readonly string[] = []): Promise<StreamState> {
    const [row] = await sql.query<{ version: number; events: DomainEvent[] }>(
      `select coalesce(max(stream_version), 0)::int as version,
              coalesce(jsonb_agg(payload order by stream_version) filter (where event_type <> all ($2::text[])), '[]'::jsonb) as events
         from event_store where stream_id = $1`,
      [streamId, skipTypes],
    );
    return row;
  }

  /**
   * Appends `events` to `streamId` if its current version is `expectedVersion`, else throws
   * VersionConflictError; `alongside` (read-model writes, `$n` placeholders) commit with them, in
   * the same round trip. Returns the stream's new version.
   */
  async append(
    sql: Sql,
    streamId: string,
    expectedVersion: number,
    events: readonly DomainEvent[],
    alongside: readonly Statement[] = [],
  ): Promise<number> {
    if (events.length === 0) return expectedVersion;
    const payloads = events.map((e) => JSON.stringify(e));
    try {
      await this.outbox.append(sql, events, {
        alongside: [eventStoreInsert(streamId, expectedVersion, events, payloads), ...alongside],
        payloads,
      });
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
}
