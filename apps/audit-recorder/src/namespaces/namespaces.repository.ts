import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { NamespaceRow } from '@audit/audit-mapping';
import { boundQuery } from '@audit/platform';

/** The recorder's own view of groups and projects, built from the same domain events. */
@Injectable()
export class NamespacesRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Applies a chunk's namespace rows (namespaceUpserts of its GroupCreated / ProjectCreated events) in two statements; idempotent, so a
   * redelivered event changes nothing. A path now held by another id was given up by its old holder.
   */
  async apply(em: EntityManager, rows: NamespaceRow[]): Promise<void> {
    if (rows.length === 0) return;
    const recordset = JSON.stringify(rows);
    await boundQuery(
      em,
      `delete from namespaces n using json_to_recordset(?::json) as x(kind text, id bigint, full_path text)
        where n.kind = x.kind and lower(n.full_path) = lower(x.full_path) and n.id <> x.id`,
      [recordset],
    );
    await boundQuery(
      em,
      `insert into namespaces (kind, id, full_path, parent_id)
       select kind, id, full_path, parent_id from json_to_recordset(?::json) as x(kind text, id bigint, full_path text, parent_id bigint)
       on conflict (kind, id) do update set full_path = excluded.full_path, parent_id = excluded.parent_id`,
      [recordset],
    );
  }

  /** `:id` of the API: numeric id or full path (case-insensitive). */
  async find(kind: NamespaceRow['kind'], idOrPath: string): Promise<NamespaceRow | null> {
    const numeric = /^\d{1,15}$/.test(idOrPath);
    const rows = await this.em
      .fork()
      .execute<Array<{ id: string; full_path: string; parent_id: string | null }>>(
        `select id, full_path, parent_id from namespaces where kind = ? and ${numeric ? 'id = ?' : 'lower(full_path) = lower(?)'}`,
        [kind, numeric ? Number(idOrPath) : idOrPath],
      );
    const row = rows[0];
    return row
      ? {
          kind,
          id: Number(row.id),
          full_path: row.full_path,
          parent_id: row.parent_id === null ? null : Number(row.parent_id),
        }
      : null;
  }
}
