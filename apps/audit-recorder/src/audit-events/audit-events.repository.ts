import { Injectable } from '@nestjs/common';
import { AuditEvent } from '@audit/contracts';
import { Database } from '@audit/platform';
import { Sql } from '@audit/sql';
import { CursorPosition } from './audit-event-cursor';
import { AuditEventSearch, AuditScope, searchStatement } from './audit-events.sql';

/** One page in order; `next` is the position after its last row when more rows match. */
export interface AuditEventPage {
  events: AuditEvent[];
  next?: CursorPosition;
}

/**
 * Storage of audit events. Inserts are the consumer's hot path, so they go as one statement per
 * chunk, `unnest` over bound column arrays, with `on conflict do nothing`: a redelivered event is a
 * no-op, and `returning id` tells which events are new.
 */
@Injectable()
export class AuditEventsRepository {
  constructor(private readonly database: Database) {}

  /**
   * Inserts through `sql`: the caller's transaction (with the namespaces read model) or an
   * autocommitting executor (a chunk without namespace changes, one statement and no BEGIN/COMMIT).
   * `payloads` are the events' JSON texts when the caller has them already (the consumer writes the
   * same text to the JSON log), so each event is serialised once.
   */
  async insertNew(
    sql: Sql,
    events: AuditEvent[],
    payloads: string[] = events.map((e) => JSON.stringify(e)),
  ): Promise<string[]> {
    if (events.length === 0) return [];
    const columns: unknown[][] = Array.from({ length: 10 }, () => new Array<unknown>(events.length));
    events.forEach((e, i) => {
      const row = [
        e.id,
        e.event_type,
        e.author_id,
        e.author_name,
        e.entity_type,
        e.entity_id,
        e.entity_path,
        e.target_type,
        e.target_id,
        e.created_at,
      ];
      for (let c = 0; c < row.length; c++) columns[c][i] = row[c];
    });
    // Bound parameters, not one JSON text formatted into the SQL: column arrays, and the payloads as
    // one JSON array (joined, not escaped element by element as a text[] would be), zipped by
    // position with ROWS FROM.
    const inserted = await sql.query<{ id: string }>(
      `insert into audit_events (id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at, payload)
       select * from rows from (unnest($1::uuid[]), unnest($2::text[]), unnest($3::bigint[]), unnest($4::text[]), unnest($5::text[]), unnest($6::bigint[]),
         unnest($7::text[]), unnest($8::text[]), unnest($9::bigint[]), unnest($10::timestamptz[]), json_array_elements($11::json))
       on conflict (id) do nothing
       returning id`,
      [...columns, `[${payloads.join(',')}]`],
    );
    return inserted.map((r) => r.id);
  }

  async findById(id: string): Promise<AuditEvent | null> {
    const rows = await this.database.autocommit.query<{ payload: AuditEvent }>(
      'select payload from audit_events where id = $1',
      [id],
    );
    return rows[0]?.payload ?? null;
  }

  /**
   * A group and everything under it in the namespaces read model, by parent links (ids, so the
   * case or a later change of a path does not matter).
   */
  async treeOf(groupId: number): Promise<Extract<AuditScope, { kind: 'entities' }>> {
    const rows = await this.database.autocommit.query<{ kind: 'Group' | 'Project'; id: string }>(
      `with recursive tree_groups(id) as (
         select $1::bigint
         union
         select n.id from namespaces n join tree_groups g on n.parent_id = g.id where n.kind = 'Group'
       )
       select 'Group' as kind, id from tree_groups
       union all
       select 'Project', n.id from namespaces n join tree_groups g on n.parent_id = g.id where n.kind = 'Project'`,
      [groupId],
    );
    const ids = (kind: string) => rows.filter((r) => r.kind === kind).map((r) => Number(r.id));
    return { kind: 'entities', groupIds: ids('Group'), projectIds: ids('Project') };
  }

  /** The first `search.limit` matching rows after `search.after`; one extra row is read to know if more exist. */
  async findPage(search: AuditEventSearch): Promise<AuditEventPage> {
    const { text, params } = searchStatement({ ...search, limit: search.limit + 1 });
    const rows = await this.database.autocommit.query<{ payload: AuditEvent; cursor_at: string; id: string }>(
      text,
      params,
    );
    const page = rows.slice(0, search.limit);
    const last = page[page.length - 1];
    return {
      events: page.map((r) => r.payload),
      next: rows.length > search.limit && last ? { createdAt: last.cursor_at, id: last.id } : undefined,
    };
  }
}
