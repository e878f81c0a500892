/** The groups-and-projects read model both consumers keep: which namespace a domain event creates. */
import type { DomainEvent } from '@audit/contracts';

/** A row of the `namespaces` read model. */
export interface NamespaceRow {
  kind: 'Group' | 'Project';
  id: number;
  full_path: string;
  parent_id: number | null;
}

/** The namespace a domain event creates, if it creates one. */
export function namespaceOf(event: DomainEvent): NamespaceRow | null {
  switch (event.type) {
    case 'GroupCreated':
      return {
        kind: 'Group',
        id: event.data.group_id,
        full_path: event.data.full_path,
        parent_id: event.data.parent_id,
      };
    case 'ProjectCreated':
      return {
        kind: 'Project',
        id: event.data.project_id,
        full_path: event.data.full_path,
        parent_id: event.data.namespace_id,
      };
    default:
      return null;
  }
}

/**
 * The rows to upsert for a chunk, in event order, one per key: the last event wins for an id and
 * for a path (one statement may not touch the same row twice).
 */
export function namespaceUpserts(events: readonly DomainEvent[]): NamespaceRow[] {
  const byId = new Map<string, NamespaceRow>();
  for (const row of events.map(namespaceOf)) {
    if (!row) continue;
    for (const [key, existing] of byId) {
      if (existing.kind === row.kind && existing.full_path.toLowerCase() === row.full_path.toLowerCase())
        byId.delete(key);
    }
    byId.delete(`${row.kind}:${row.id}`);
    byId.set(`${row.kind}:${row.id}`, row);
  }
  return [...byId.values()];
}

/** The top-level group of a path: its first segment. */
export const rootPathOf = (fullPath: string): string => fullPath.split('/')[0];
