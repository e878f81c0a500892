import { DomainEvent, DomainEventOf } from '@audit/contracts';
import { Statement } from '@audit/sql';
import { Group, Project } from './namespace.entities';

/** The read-model rows of a group's or project's creation, run in the append's own statement. */
export function projectNamespace(events: DomainEvent[]): Statement[] {
  return events.flatMap((event): Statement[] => {
    switch (event.type) {
      case 'GroupCreated': {
        const g = groupOf(event);
        return [
          {
            text: 'insert into groups (id, path, name, full_path, parent_id, created_at) values ($1, $2, $3, $4, $5, $6)',
            params: [g.id, g.path, g.name, g.fullPath, g.parentId, event.occurred_at],
          },
        ];
      }
      case 'ProjectCreated': {
        const p = projectOf(event);
        return [
          {
            text: 'insert into projects (id, path, name, full_path, namespace_id, created_at) values ($1, $2, $3, $4, $5, $6)',
            params: [p.id, p.path, p.name, p.fullPath, p.namespaceId, event.occurred_at],
          },
        ];
      }
      default:
        return [];
    }
  });
}

/** The group a GroupCreated starts; also the body of the 201, with no read. */
export const groupOf = ({ data: d, occurred_at }: DomainEventOf<'GroupCreated'>): Group => ({
  id: d.group_id,
  path: d.path,
  name: d.name,
  fullPath: d.full_path,
  parentId: d.parent_id,
  createdAt: new Date(occurred_at),
});

/** The project a ProjectCreated starts; also the body of the 201, with no read. */
export const projectOf = ({ data: d, occurred_at }: DomainEventOf<'ProjectCreated'>): Project => ({
  id: d.project_id,
  path: d.path,
  name: d.name,
  fullPath: d.full_path,
  namespaceId: d.namespace_id,
  createdAt: new Date(occurred_at),
});
