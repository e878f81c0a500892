import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { DomainEvent } from '@audit/contracts';

export interface Namespace {
  kind: 'Group' | 'Project';
  id: number;
  full_path: string;
  parent_id: number | null;
}

/** The recorder's own view of groups and projects, built from the same domain events. */
@Injectable()
export class NamespacesRepository {
  constructor(private readonly em: EntityManager) {}

  /** Applies GroupCreated / ProjectCreated; idempotent, so a redelivered event changes nothing. */
  async apply(em: EntityManager, events: DomainEvent[]): Promise<void> {
    for (const event of events) {
      if (event.type === 'GroupCreated') {
        await this.upsert(em, { kind: 'Group', id: event.data.group_id, full_path: event.data.full_path, parent_id: event.data.parent_id });
      } else if (event.type === 'ProjectCreated') {
        await this.upsert(em, { kind: 'Project', id: event.data.project_id, full_path: event.data.full_path, parent_id: event.data.namespace_id });
      }
    }
  }

  /** `:id` of the API: numeric id or full path. */
  async find(kind: Namespace['kind'], idOrPath: string): Promise<Namespace | null> {
    const numeric = /^\d{1,15}$/.test(idOrPath);
    const rows = await this.em.fork().execute<Array<Namespace & { id: string; parent_id: string | null }>>(
      `select kind, id, full_path, parent_id from namespaces where kind = ? and ${numeric ? 'id = ?' : 'lower(full_path) = lower(?)'}`,
      [kind, numeric ? Number(idOrPath) : idOrPath],
    );
    const row = rows[0];
    return row ? { ...row, id: Number(row.id), parent_id: row.parent_id === null ? null : Number(row.parent_id) } : null;
  }

  private async upsert(em: EntityManager, ns: Namespace): Promise<void> {
    await em.execute(
      'insert into namespaces (kind, id, full_path, parent_id) values (?, ?, ?, ?) on conflict (kind, id) do update set full_path = excluded.full_path, parent_id = excluded.parent_id',
      [ns.kind, ns.id, ns.full_path, ns.parent_id],
    );
  }
}
