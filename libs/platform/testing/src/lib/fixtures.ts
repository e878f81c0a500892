import { DomainEvent, DomainEventSchemas } from '@audit/contracts';
import { randomUUID } from 'node:crypto';

/** A schema-valid ReleaseCreated envelope of project `projectId` at `projectPath`. */
export function releaseCreatedEvent(
  n: number,
  projectId = 29,
  projectPath = 'example-group/example-project',
): DomainEvent {
  return DomainEventSchemas.ReleaseCreated.parse({
    id: randomUUID(),
    type: 'ReleaseCreated',
    schema_version: 1,
    occurred_at: new Date(Date.UTC(2026, 10, 21, 10, 0, 0, n)).toISOString(),
    aggregate: { type: 'Release', id: String(n), version: 1 },
    actor: { id: 1, name: 'alice', ip_address: '203.0.113.7' },
    scope: { entity_type: 'Project', entity_id: projectId, entity_path: projectPath },
    correlation_id: `corr-${n}`,
    data: {
      release_id: n,
      project_id: projectId,
      tag_name: `v${n}`,
      name: `Release ${n}`,
      description: null,
      milestones: [],
    },
  }) as DomainEvent;
}
