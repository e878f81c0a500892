import type { DomainEvent } from '@audit/contracts';
import { namespaceUpserts, rootPathOf } from './namespaces';

const envelope = {
  schema_version: 1 as const,
  occurred_at: '2026-11-21T10:15:30.123Z',
  aggregate: { type: 'Group', id: '1', version: 1 },
  actor: { id: 1, name: 'alice', ip_address: null },
  correlation_id: 'c',
};

const group = (id: number, full_path: string, parent_id: number | null): DomainEvent => ({
  ...envelope,
  id: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
  type: 'GroupCreated',
  scope: { entity_type: 'Group', entity_id: id, entity_path: full_path },
  data: { group_id: id, path: full_path.split('/').pop() as string, name: full_path, full_path, parent_id },
});

const project = (id: number, full_path: string, namespace_id: number): DomainEvent => ({
  ...envelope,
  id: `00000000-0000-4000-9000-${String(id).padStart(12, '0')}`,
  type: 'ProjectCreated',
  scope: { entity_type: 'Project', entity_id: id, entity_path: full_path },
  data: { project_id: id, path: full_path.split('/').pop() as string, name: full_path, full_path, namespace_id },
});

describe('namespaceUpserts', () => {
  it('maps groups and projects, ignoring other events', () => {
    expect(namespaceUpserts([group(1, 'acme', null), group(2, 'acme/sub', 1), project(3, 'acme/sub/app', 2)])).toEqual([
      { kind: 'Group', id: 1, full_path: 'acme', parent_id: null },
      { kind: 'Group', id: 2, full_path: 'acme/sub', parent_id: 1 },
      { kind: 'Project', id: 3, full_path: 'acme/sub/app', parent_id: 2 },
    ]);
  });

  it('keeps one row per id and per path, the last event winning', () => {
    const rows = namespaceUpserts([group(1, 'acme', null), group(1, 'acme', null), group(5, 'ACME', null)]);
    expect(rows).toEqual([{ kind: 'Group', id: 5, full_path: 'ACME', parent_id: null }]);
  });

  it('lets a group and a project share a path', () => {
    expect(namespaceUpserts([group(1, 'a/b', null), project(1, 'a/b', 1)])).toHaveLength(2);
  });
});

describe('rootPathOf', () => {
  it('is the first segment', () => {
    expect(rootPathOf('acme/sub/app')).toBe('acme');
    expect(rootPathOf('acme')).toBe('acme');
  });
});
