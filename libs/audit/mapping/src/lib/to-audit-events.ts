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

/** A change named in `details.changes`; sensitive fields carry no values (docs/contracts.md, "Audit event"). */
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
    .map(([field, change]) =>
      SENSITIVE_FIELDS.has(field) ? { field } : { field, from: change?.from, to: change?.to },
    );

/** Streaming configuration changes: the destination (or its header) is the target, values of secrets never appear. */
type DestinationData = { destination_id: number; destination_name: string; destination_url: string };
type HeaderData = DestinationData & { header_id: number; key: string };
const STREAMING_DESTINATION = 'audit event streaming destination';

const destinationTarget = (data: DestinationData) => ({
  target_id: data.destination_id,
  target_type: 'StreamingDestination',
  target_details: data.destination_name,
});
const headerTarget = (data: HeaderData) => ({
  target_id: data.header_id,
  target_type: 'StreamingHeader',
  target_details: data.key,
});

const filtersText = (filters: string[]): string => (filters.length === 0 ? 'all types' : filters.join(', '));

/** One phrase per changed field, in a fixed order: "URL from a to b", "name from x to y", ... */
function destinationUpdate(data: DomainEventOf<'StreamingDestinationUpdated'>['data']): {
  message: string;
  changes: AuditChange[];
} {
  const { name, destination_url: url, event_type_filters: filters, active } = data.changes;
  const named: Array<[string, { from: unknown; to: unknown } | undefined, string]> = [
    ['destination_url', url, url ? `URL from ${url.from} to ${url.to}` : ''],
    ['name', name, name ? `name from ${name.from} to ${name.to}` : ''],
    [
      'event_type_filters',
      filters,
      filters ? `event type filters from ${filtersText(filters.from)} to ${filtersText(filters.to)}` : '',
    ],
    ['active', active, active?.to ? 'activated' : 'deactivated'],
  ];
  const present = named.filter(([, change]) => change !== undefined);
  const phrases = present.map(([, , phrase]) => phrase);
  const changes: AuditChange[] = present.map(([field, change]) => ({ field, from: change?.from, to: change?.to }));
  const subject = name ? name.from : data.destination_name;
  return {
    message: `Updated ${STREAMING_DESTINATION} ${subject}${phrases.length > 0 ? `: ${phrases.join('; ')}` : ''}`,
    changes,
  };
}

function headerUpdate(data: DomainEventOf<'StreamingHeaderUpdated'>['data']): {
  message: string;
  changes: AuditChange[];
} {
  const changes: AuditChange[] = [];
  if (data.key_change) changes.push({ field: 'key', from: data.key_change.from, to: data.key_change.to });
  if (data.value_changed) changes.push({ field: 'value' }); // SENSITIVE: named, never valued
  const renamed = data.key_change ? ` (renamed from ${data.key_change.from})` : '';
  return {
    message: `Updated custom HTTP header ${data.key}${renamed} of ${STREAMING_DESTINATION} ${data.destination_url}`,
    changes,
  };
}

function describeStreaming(event: Extract<DomainEvent, { type: `Streaming${string}` }>): Described {
  switch (event.type) {
    case 'StreamingDestinationCreated':
      return {
        event_type: 'audit_events_streaming_destination_created',
        ...destinationTarget(event.data),
        custom_message: `Created ${STREAMING_DESTINATION} ${event.data.destination_url}`,
        extra: { destination_url: event.data.destination_url, event_type_filters: event.data.event_type_filters },
      };
    case 'StreamingDestinationUpdated': {
      const { message, changes } = destinationUpdate(event.data);
      return {
        event_type: 'audit_events_streaming_destination_updated',
        ...destinationTarget(event.data),
        custom_message: message,
        extra: { changes },
      };
    }
    case 'StreamingDestinationDeleted':
      return {
        event_type: 'audit_events_streaming_destination_deleted',
        ...destinationTarget(event.data),
        custom_message: `Deleted ${STREAMING_DESTINATION} ${event.data.destination_url}`,
      };
    case 'StreamingDestinationDeactivated':
      return {
        event_type: 'audit_events_streaming_destination_deactivated',
        ...destinationTarget(event.data),
        custom_message: `Deactivated ${STREAMING_DESTINATION} ${event.data.destination_url}: ${event.data.reason}`,
        extra: { reason: event.data.reason },
      };
    case 'StreamingSigningSecretRotated':
      return {
        event_type: 'audit_events_streaming_signing_secret_rotated',
        ...destinationTarget(event.data),
        custom_message: `Rotated the signing secret of ${STREAMING_DESTINATION} ${event.data.destination_url}`,
        extra: { previous_secret_expires_at: event.data.previous_secret_expires_at },
      };
    case 'StreamingHeaderCreated':
      return {
        event_type: 'audit_events_streaming_header_created',
        ...headerTarget(event.data),
        custom_message: `Created custom HTTP header ${event.data.key} for ${STREAMING_DESTINATION} ${event.data.destination_url}`,
        extra: { destination_id: event.data.destination_id },
      };
    case 'StreamingHeaderUpdated': {
      const { message, changes } = headerUpdate(event.data);
      return {
        event_type: 'audit_events_streaming_header_updated',
        ...headerTarget(event.data),
        custom_message: message,
        extra: { destination_id: event.data.destination_id, changes },
      };
    }
    case 'StreamingHeaderDeleted':
      return {
        event_type: 'audit_events_streaming_header_deleted',
        ...headerTarget(event.data),
        custom_message: `Deleted custom HTTP header ${event.data.key} from ${STREAMING_DESTINATION} ${event.data.destination_url}`,
        extra: { destination_id: event.data.destination_id },
      };
    default: {
      const unhandled: never = event;
      throw new Error(`no audit mapping for ${(unhandled as { type: string }).type}`);
    }
  }
}

const withMilestones = (tag: string, milestones: string[]): string =>
  milestones.length === 0
    ? `Created Release ${tag}`
    : `Created Release ${tag} with milestones ${milestones.join(', ')}`;

function describe(event: DomainEvent): Described[] {
  switch (event.type) {
    case 'GroupCreated':
      return [
        {
          event_type: 'group_created',
          target_id: event.data.group_id,
          target_type: 'Group',
          target_details: event.data.full_path,
          custom_message: `Created Group ${event.data.full_path}`,
        },
      ];
    case 'ProjectCreated':
      return [
        {
          event_type: 'project_created',
          target_id: event.data.project_id,
          target_type: 'Project',
          target_details: event.data.full_path,
          custom_message: `Created Project ${event.data.full_path}`,
        },
      ];
    case 'MilestoneCreated':
      return [
        {
          event_type: 'milestone_created',
          target_id: event.data.milestone_id,
          target_type: 'Milestone',
          target_details: event.data.title,
          custom_message: `Created Milestone ${event.data.title}`,
        },
      ];
    case 'ReleaseCreated':
      return [
        {
          event_type: 'release_created',
          ...releaseTarget(event.data),
          custom_message: withMilestones(event.data.tag_name, event.data.milestones),
        },
      ];
    case 'ReleaseUpdated':
      return [
        {
          event_type: 'release_updated',
          ...releaseTarget(event.data),
          custom_message: `Updated Release ${event.data.tag_name}`,
          extra: { changes: releaseChanges(event.data.changes) },
        },
      ];
    case 'ReleaseMilestonesChanged':
      return [
        {
          event_type: 'release_milestones_updated',
          ...releaseTarget(event.data),
          custom_message: `Milestones associated with release changed to ${event.data.to.join(', ')}`,
          extra: { changes: [{ field: 'milestones', from: event.data.from, to: event.data.to }] },
        },
      ];
    case 'ReleaseDeleted':
      return [
        {
          event_type: 'release_deleted',
          ...releaseTarget(event.data),
          custom_message: `Deleted Release ${event.data.tag_name}`,
        },
      ];
    case 'ReleaseEvidenceCollected':
      return [
        {
          event_type: 'release_evidence_collected',
          ...releaseTarget(event.data),
          custom_message: `Collected evidence for Release ${event.data.tag_name}`,
          extra: { evidence_id: event.data.evidence_id, sha: event.data.sha },
        },
      ];
    case 'ReleaseAssetLinkAdded':
      return [
        {
          event_type: 'release_asset_link_added',
          ...releaseTarget(event.data),
          custom_message: `Added asset link ${event.data.link_name} to Release ${event.data.tag_name}`,
          extra: { link_id: event.data.link_id, url: event.data.url },
        },
      ];
    case 'ReleaseAssetLinkRemoved':
      return [
        {
          event_type: 'release_asset_link_removed',
          ...releaseTarget(event.data),
          custom_message: `Removed asset link ${event.data.link_name} from Release ${event.data.tag_name}`,
          extra: { link_id: event.data.link_id, url: event.data.url },
        },
      ];
    case 'ReleaseArtifactDownloaded':
      return [
        {
          event_type: 'release_artifact_downloaded',
          ...releaseTarget(event.data),
          custom_message: `Downloaded asset ${event.data.link_name} of Release ${event.data.tag_name}`,
          extra: { link_id: event.data.link_id, url: event.data.url },
        },
      ];
    case 'AuditEventsExportStarted':
      return [
        {
          event_type: 'audit_events_export_started',
          target_id: null,
          target_type: 'AuditEvent',
          target_details: `${event.data.format.toUpperCase()} export`,
          custom_message: `Started an export of audit events as ${event.data.format.toUpperCase()}`,
          extra: { export_id: event.data.export_id, filters: event.data.filters },
        },
      ];
    case 'AuditEventsExported':
      return [
        {
          event_type: 'audit_events_exported',
          target_id: null,
          target_type: 'AuditEvent',
          target_details: `${event.data.format.toUpperCase()} export`,
          custom_message: event.data.completed
            ? `Exported ${event.data.row_count} audit events as ${event.data.format.toUpperCase()}`
            : `Export of audit events as ${event.data.format.toUpperCase()} stopped after ${event.data.row_count} rows`,
          extra: {
            ...(event.data.export_id && { export_id: event.data.export_id }),
            filters: event.data.filters,
            row_count: event.data.row_count,
            completed: event.data.completed,
          },
        },
      ];
    case 'AuditLogCheckpointCreated':
      return [
        {
          event_type: 'audit_log_checkpoint_created',
          target_id: null,
          target_type: 'AuditLogCheckpoint',
          target_details: `Checkpoint ${event.data.sequence}`,
          custom_message: `Signed checkpoint ${event.data.sequence} of the audit log: ${event.data.chains} chains, ${event.data.events} events`,
          extra: {
            checkpoint_id: event.data.checkpoint_id,
            sequence: event.data.sequence,
            reason: event.data.reason,
            key_id: event.data.key_id,
            body: event.data.body,
            signature: event.data.signature,
          },
        },
      ];
    case 'AuditEventsPurged':
      return [
        {
          event_type: 'audit_events_purged',
          target_id: null,
          target_type: 'AuditEvent',
          target_details: `${event.data.months.length} months before ${event.data.before_month}`,
          custom_message: `Purged ${event.data.events} audit events of ${event.data.months.length} months older than the retention of ${event.data.retention_days} days`,
          extra: {
            purge_id: event.data.purge_id,
            retention_days: event.data.retention_days,
            before_month: event.data.before_month,
            months: event.data.months,
            events: event.data.events,
            counts: event.data.counts,
            ranges: event.data.ranges,
            heads: event.data.heads,
          },
        },
      ];
    case 'StreamingDestinationCreated':
    case 'StreamingDestinationUpdated':
    case 'StreamingDestinationDeleted':
    case 'StreamingDestinationDeactivated':
    case 'StreamingSigningSecretRotated':
    case 'StreamingHeaderCreated':
    case 'StreamingHeaderUpdated':
    case 'StreamingHeaderDeleted':
      return [describeStreaming(event)];
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
  'audit_events_export_started',
  'audit_events_exported',
  'audit_log_checkpoint_created',
  'audit_events_purged',
  'audit_events_streaming_destination_created',
  'audit_events_streaming_destination_updated',
  'audit_events_streaming_destination_deleted',
  'audit_events_streaming_destination_deactivated',
  'audit_events_streaming_signing_secret_rotated',
  'audit_events_streaming_header_created',
  'audit_events_streaming_header_updated',
  'audit_events_streaming_header_deleted',
] as const;

/**
 * Pure: a domain event in, its audit event(s) out, in the exact shape of docs/contracts.md.
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
