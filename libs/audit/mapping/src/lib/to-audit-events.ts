import { AuditEvent, DomainEvent, DomainEventOf } from '@audit/contracts';
import { auditEventIdFor } from './audit-event-id';

/** What differs per domain event type; the envelope supplies author, entity, time and ids. */
interface Described {
  event_type: string;
  target_id: number | null;
  target_type: string;
  target_details: string;
  custom_message: string;
  extra?: Record<string, unknown>;
}

/** A change named in `details.changes`; sensitive fields carry no values (seed 004). */
export interface AuditChange {
  field: string;
  from?: unknown;
  to?: unknown;
}

/** Fields whose values never appear in a message or in `changes`. */
export const SENSITIVE_FIELDS: ReadonlySet<string> = new Set(['description']);

const releaseTarget = (data: { release_id: number; name: string }) => ({
  target_id: data.release_id,
  target_type: 'Release',
  target_details: data.name,
});

const releaseChanges = (changes: DomainEventOf<'ReleaseUpdated'>['data']['changes']): AuditChange[] =>
  Object.entries(changes)
    .filter(([, change]) => change !== undefined)
    .map(([field, change]) => (SENSITIVE_FIELDS.has(field) ? { field } : { field, from: change?.from, to: change?.to }));

const withMilestones = (tag: string, milestones: string[]): string =>
  milestones.length === 0 ? `Created Release ${tag}` : `Created Release ${tag} with milestones ${milestones.join(', ')}`;

function describe(event: DomainEvent): Described[] {
  switch (event.type) {
    case 'GroupCreated':
      return [{ event_type: 'group_created', target_id: event.data.group_id, target_type: 'Group', target_details: event.data.full_path, custom_message: `Created Group ${event.data.full_path}` }];
    case 'ProjectCreated':
      return [{ event_type: 'project_created', target_id: event.data.project_id, target_type: 'Project', target_details: event.data.full_path, custom_message: `Created Project ${event.data.full_path}` }];
    case 'MilestoneCreated':
      return [{ event_type: 'milestone_created', target_id: event.data.milestone_id, target_type: 'Milestone', target_details: event.data.title, custom_message: `Created Milestone ${event.data.title}` }];
    case 'ReleaseCreated':
      return [{ event_type: 'release_created', ...releaseTarget(event.data), custom_message: withMilestones(event.data.tag_name, event.data.milestones) }];
    case 'ReleaseUpdated':
      return [{ event_type: 'release_updated', ...releaseTarget(event.data), custom_message: `Updated Release ${event.data.tag_name}`, extra: { changes: releaseChanges(event.data.changes) } }];
    case 'ReleaseMilestonesChanged':
      return [{ event_type: 'release_milestones_updated', ...releaseTarget(event.data), custom_message: `Milestones associated with release changed to ${event.data.to.join(', ')}`, extra: { changes: [{ field: 'milestones', from: event.data.from, to: event.data.to }] } }];
    case 'ReleaseDeleted':
      return [{ event_type: 'release_deleted', ...releaseTarget(event.data), custom_message: `Deleted Release ${event.data.tag_name}` }];
    case 'ReleaseEvidenceCollected':
      return [{ event_type: 'release_evidence_collected', ...releaseTarget(event.data), custom_message: `Collected evidence for Release ${event.data.tag_name}`, extra: { evidence_id: event.data.evidence_id, sha: event.data.sha } }];
    case 'ReleaseAssetLinkAdded':
      return [{ event_type: 'release_asset_link_added', ...releaseTarget(event.data), custom_message: `Added asset link ${event.data.link_name} to Release ${event.data.tag_name}`, extra: { link_id: event.data.link_id, url: event.data.url } }];
    case 'ReleaseAssetLinkRemoved':
      return [{ event_type: 'release_asset_link_removed', ...releaseTarget(event.data), custom_message: `Removed asset link ${event.data.link_name} from Release ${event.data.tag_name}`, extra: { link_id: event.data.link_id, url: event.data.url } }];
    case 'ReleaseArtifactDownloaded':
      return [{ event_type: 'release_artifact_downloaded', ...releaseTarget(event.data), custom_message: `Downloaded asset ${event.data.link_name} of Release ${event.data.tag_name}`, extra: { link_id: event.data.link_id, url: event.data.url } }];
    case 'AuditEventsExported':
      return [{
        event_type: 'audit_events_exported',
        target_id: null,
        target_type: 'AuditEvent',
        target_details: `${event.data.format.toUpperCase()} export`,
        custom_message: event.data.completed
          ? `Exported ${event.data.row_count} audit events as ${event.data.format.toUpperCase()}`
          : `Export of audit events as ${event.data.format.toUpperCase()} stopped after ${event.data.row_count} rows`,
        extra: { filters: event.data.filters, row_count: event.data.row_count, completed: event.data.completed },
      }];
    default: {
      const unhandled: never = event;
      throw new Error(`no audit mapping for ${(unhandled as { type: string }).type}`);
    }
  }
}

/** Every audit event type this mapping can produce: the registry must define each of them. */
export const MAPPED_AUDIT_EVENT_TYPES = [
  'group_created',
  'project_created',
  'milestone_created',
  'release_created',
  'release_updated',
  'release_milestones_updated',
  'release_deleted',
  'release_evidence_collected',
  'release_asset_link_added',
  'release_asset_link_removed',
  'release_artifact_downloaded',
  'audit_events_exported',
] as const;

/**
 * Pure: a domain event in, its audit event(s) out, in the exact shape of CONTRACTS.md.
 * The recorder and the streamer both call this, so they agree on every field and on the id.
 */
export function toAuditEvents(event: DomainEvent): AuditEvent[] {
  return describe(event).map((d) => {
    const { actor, scope } = event;
    return {
      id: auditEventIdFor(event.id, d.event_type),
      author_id: actor.id,
      entity_id: scope.entity_id,
      entity_type: scope.entity_type,
      details: {
        author_name: actor.name,
        target_id: d.target_id,
        target_type: d.target_type,
        target_details: d.target_details,
        custom_message: d.custom_message,
        ip_address: actor.ip_address,
        entity_path: scope.entity_path,
        ...d.extra,
        correlation_id: event.correlation_id,
      },
      ip_address: actor.ip_address,
      author_name: actor.name,
      entity_path: scope.entity_path,
      target_details: d.target_details,
      created_at: event.occurred_at,
      target_type: d.target_type,
      target_id: d.target_id,
      event_type: d.event_type,
    };
  });
}
