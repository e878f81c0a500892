import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { Inject, Injectable } from '@nestjs/common';
import { DomainEvent, messageKeyFor } from '@audit/contracts';
import { APP_CONFIG, ConflictError, LoadedConfig } from '@audit/platform';

/** The NOTIFY channel an append signals on; the outbox relay LISTENs to it. */
export const OUTBOX_CHANNEL = 'outbox_appended';

/**
 * Append-only event streams with optimistic concurrency. The same transaction writes the outbox,
 * so an event is published if and only if it was stored. Raw SQL here: an append is two plain
 * inserts whose unique violations carry meaning (version conflict), which the unit of work hides.
 */
@Injectable()
export class EventStore {
  constructor(@Inject(APP_CONFIG) private readonly config: LoadedConfig) {}

  /** Appends `events` to `streamId` if its current version is `expectedVersion`; else ConflictError. */
  async append(em: EntityManager, streamId: string, expectedVersion: number, events: DomainEvent[]): Promise<number> {
    let version = expectedVersion;
    try {
      for (const event of events) {
        version += 1;
        await em.execute(
          'insert into event_store (stream_id, stream_version, event_id, event_type, payload) values (?, ?, ?, ?, ?)',
          [streamId, version, event.id, event.type, JSON.stringify(event)],
        );
        await em.execute('insert into outbox (event_id, topic, message_key, payload) values (?, ?, ?, ?)', [
          event.id,
          this.config.KAFKA_TOPIC,
          messageKeyFor(event.scope),
          JSON.stringify(event),
        ]);
      }
      // Delivered at commit to every relay listening, in any instance: the publisher wakes at once.
      await em.execute(`select pg_notify('${OUTBOX_CHANNEL}', '')`);
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) {
        throw new ConflictError(`${streamId} was changed concurrently (expected version ${expectedVersion}); retry`);
      }
      throw err;
    }
    return version;
  }

  /** The events of a stream in order, for rebuilding an aggregate's state with `evolve`. */
  async read(em: EntityManager, streamId: string): Promise<DomainEvent[]> {
    const rows = await em.execute<Array<{ payload: DomainEvent }>>(
      'select payload from event_store where stream_id = ? order by stream_version',
      [streamId],
    );
    return rows.map((row) => row.payload);
  }

  async nextId(em: EntityManager, sequence: 'group_ids' | 'project_ids' | 'milestone_ids' | 'release_ids'): Promise<number> {
    const [row] = await em.execute<Array<{ id: string }>>(`select nextval('${sequence}') as id`);
    return Number(row.id);
  }
}
