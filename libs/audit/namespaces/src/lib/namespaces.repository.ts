import { Injectable } from '@nestjs/common';
import { NamespaceRow } from '@audit/audit-mapping';
import { Database } from '@audit/platform';
import { Sql } from '@audit/sql';

interface Row {
  id: string;
  full_path: string;
  parent_id: string | null;
}

/**
 * The `namespaces` read model that the recorder and the streamer each keep in their own database,
 * built from the same GroupCreated / ProjectCreated events: it resolves the API's `:id` (numeric id or
 * full path) and tells which group a project belongs to.
 */
@Injectable()
export class NamespacesRepository {
  constructor(private readonly database: Database) {}

  /**
   * Applies a chunk's rows (`namespaceUpserts` of its events) inside the caller's transaction; idempotent, so a redelivered event changes nothing. A path now held by another id was
   * given up by its old holder (paths are unique at any moment), so the older row lets it go.
   */
  async apply(sql: Sql, rows: readonly NamespaceRow[]): Promise<void> {
    if (rows.length === 0) return;
    // Two statements, in this order: a data-modifying CTE gives no order between the delete and the insert.
    const recordset = JSON.stringify(rows);
    await sql.query(
      `delete from namespaces n using jsonb_to_recordset($1::jsonb) as x(kind text, id bigint, full_path text)
        where n.kind = x.kind and lower(n.full_path) = lower(x.full_path) and n.id <> x.id`,
      [recordset],
    );
    await sql.query(
      `insert into namespaces (kind, id, full_path, parent_id)
       select kind, id, full_path, parent_id
         from jsonb_to_recordset($1::jsonb) as x(kind text, id bigint, full_path text, parent_id bigint)
       on conflict (kind, id) do update set full_path = excluded.full_path, parent_id = excluded.parent_id`,
      [recordset],
    );
  }

  /** A group or project by numeric id or full path (case-insensitive). */
  async find(kind: NamespaceRow['kind'], idOrPath: string): Promise<NamespaceRow | null> {
    const numeric = /^\d{1,15}$/.test(idOrPath);
    const [row] = await this.database.autocommit.query<Row>(
      `select id, full_path, parent_id from namespaces
        where kind = $1 and ${numeric ? 'id = $2::bigint' : 'lower(full_path) = lower($2)'}`,
      [kind, idOrPath],
    );
    return row
      ? {
          kind,
          id: Number(row.id),
          full_path: row.full_path,
          parent_id: row.parent_id === null ? null : Number(row.parent_id),
        }
      : null;
  }

  findGroup(idOrPath: string): Promise<NamespaceRow | null> {
    return this.find('Group', idOrPath);
  }
}
