import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { json, toNumber } from '../app/sql';
import { NamespaceRow } from '@audit/audit-mapping';

/** The `namespaces` read model (see app/sql.ts for why raw SQL). */
@Injectable()
export class NamespacesRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Upserts in one round trip. A path now claimed by another id means the old holder was renamed or
   * deleted (paths are unique at any moment), so the older row gives the path up.
   */
  async upsert(em: EntityManager, rows: NamespaceRow[]): Promise<void> {
    if (rows.length === 0) return;
    await em.execute(
      `delete from namespaces n
        using jsonb_to_recordset(?::jsonb) as x(kind text, id bigint, full_path text)
        where n.kind = x.kind and lower(n.full_path) = lower(x.full_path) and n.id <> x.id`,
      [json(rows)],
    );
    await em.execute(
      `insert into namespaces (kind, id, full_path, parent_id)
       select kind, id, full_path, parent_id
         from jsonb_to_recordset(?::jsonb) as x(kind text, id bigint, full_path text, parent_id bigint)
       on conflict (kind, id) do update set full_path = excluded.full_path, parent_id = excluded.parent_id`,
      [json(rows)],
    );
  }

  /** A group by numeric id or full path (case-insensitive). */
  async findGroup(idOrPath: string): Promise<NamespaceRow | null> {
    const byId = /^\d{1,15}$/.test(idOrPath);
    const rows = await this.em
      .fork()
      .execute<Array<Record<string, unknown>>>(
        byId
          ? `select kind, id, full_path, parent_id from namespaces where kind = 'Group' and id = ?`
          : `select kind, id, full_path, parent_id from namespaces where kind = 'Group' and lower(full_path) = lower(?)`,
        [idOrPath],
      );
    const row = rows[0];
    if (!row) return null;
    return {
      kind: 'Group',
      id: toNumber(row['id']),
      full_path: String(row['full_path']),
      parent_id: row['parent_id'] === null ? null : toNumber(row['parent_id']),
    };
  }
}
