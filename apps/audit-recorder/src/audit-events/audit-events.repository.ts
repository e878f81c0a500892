import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { AuditEvent } from '@audit/contracts';

export interface AuditEventQuery {
  /** Restricts to one entity, to a group's tree (path prefix), or nothing (instance). */
  scope: { kind: 'instance' } | { kind: 'entity'; entityType: string; entityId: number } | { kind: 'tree'; path: string };
  perPage: number;
  after?: { createdAt: string; id: string };
}

/**
 * Storage of audit events. Inserts are the consumer's hot path, so they go as one statement per
 * chunk through `json_to_recordset` with `on conflict do nothing`: a redelivered event is a no-op,
 * and `returning id` tells which events are new.
 */
@Injectable()
export class AuditEventsRepository {
  constructor(private readonly em: EntityManager) {}

  async insertNew(em: EntityManager, events: AuditEvent[]): Promise<string[]> {
    if (events.length === 0) return [];
    const rows = events.map((e) => ({
      id: e.id,
      event_type: e.event_type,
      author_id: e.author_id,
      author_name: e.author_name,
      entity_type: e.entity_type,
      entity_id: e.entity_id,
      entity_path: e.entity_path,
      target_type: e.target_type,
      target_id: e.target_id,
      created_at: e.created_at,
      payload: e,
    }));
    const inserted = await em.execute<Array<{ id: string }>>(
      `insert into audit_events (id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at, payload)
       select id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at, payload
       from json_to_recordset(?::json) as x(id uuid, event_type text, author_id bigint, author_name text, entity_type text,
         entity_id bigint, entity_path text, target_type text, target_id bigint, created_at timestamptz, payload json)
       on conflict (id) do nothing
       returning id`,
      [JSON.stringify(rows)],
    );
    return inserted.map((r) => r.id);
  }

  async findById(id: string): Promise<AuditEvent | null> {
    const rows = await this.em.fork().execute<Array<{ payload: AuditEvent }>>('select payload from audit_events where id = ?', [id]);
    return rows[0]?.payload ?? null;
  }

  /** Newest first, keyset-paginated on (created_at, id); fetches one extra row to know if more exist. */
  async find(query: AuditEventQuery): Promise<{ events: AuditEvent[]; next?: { createdAt: string; id: string } }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.scope.kind === 'entity') {
      where.push('entity_type = ? and entity_id = ?');
      params.push(query.scope.entityType, query.scope.entityId);
    } else if (query.scope.kind === 'tree') {
      where.push("(entity_path = ? or entity_path like ? escape '\\')");
      params.push(query.scope.path, `${query.scope.path.replace(/[\\%_]/g, '\\$&')}/%`);
    }
    if (query.after) {
      where.push('(created_at, id) < (?::timestamptz, ?::uuid)');
      params.push(query.after.createdAt, query.after.id);
    }
    const rows = await this.em.fork().execute<Array<{ payload: AuditEvent; cursor_at: string; id: string }>>(
      `select payload, to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at, id from audit_events
       ${where.length ? `where ${where.join(' and ')}` : ''}
       order by created_at desc, id desc limit ?`,
      [...params, query.perPage + 1],
    );
    const page = rows.slice(0, query.perPage);
    const last = page[page.length - 1];
    return {
      events: page.map((r) => r.payload),
      next: rows.length > query.perPage && last ? { createdAt: last.cursor_at, id: last.id } : undefined,
    };
  }
}
