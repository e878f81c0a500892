import { z } from 'zod';
import { envelopeOf, UtcTimestamp } from './domain-event';

/*
 * One schema per domain event type. Producers validate before publishing, consumers on receipt,
 * so a message that does not match its type's schema never becomes an audit event.
 */
const id = z.number().int().positive();
const name = z.string().min(1).max(255);
const path = z.string().min(1).max(255);
const fullPath = z.string().min(1).max(1024);
const tagName = z.string().min(1).max(255);
const milestoneTitles = z.array(z.string().min(1).max(255)).max(100);
/**
 * A description travels in events (ReleaseUpdated carries the old and the new one). 50,000
 * characters keeps the worst case (two descriptions of escaped control characters, 6 bytes each)
 * under Kafka's default 1 MiB message limit, so the outbox can never hold an event the broker refuses.
 */
export const MAX_DESCRIPTION_LENGTH = 50_000;
const description = z.string().max(MAX_DESCRIPTION_LENGTH).nullable();
const change = <T extends z.ZodTypeAny>(value: T) => z.object({ from: value, to: value }).strict();

const releaseRef = { release_id: id, project_id: id, tag_name: tagName, name };

/*
 * Streaming configuration (audit-streamer). Tokens, signing secrets and header values never travel in
 * an event: a changed header value is named (`value_changed`) without its value.
 */
const destinationUrl = z.string().min(1).max(2048);
const eventTypeFilters = z.array(z.string().min(1).max(255)).max(100);
const destinationRef = { destination_id: id, destination_name: name, destination_url: destinationUrl };
const headerKey = z.string().min(1).max(255);
const headerRef = { ...destinationRef, header_id: id, key: headerKey };
const linkRef = { link_id: id, link_name: name, url: z.string().min(1).max(2048) };

/** The query parameters an export was given, as an auditor reads them back. */
const exportFormat = z.enum(['csv', 'jsonl']);
const exportFilters = z
  .object({
    created_after: z.string().max(64).optional(),
    created_before: z.string().max(64).optional(),
    event_type: z.array(z.string().min(1).max(128)).max(50).optional(),
    author_id: id.optional(),
    entity_type: z.string().max(64).optional(),
    entity_id: id.optional(),
    target_type: z.string().max(128).optional(),
    target_id: id.optional(),
    sort: z.enum(['asc', 'desc']),
  })
  .strict();

export const DomainEventSchemas = {
  GroupCreated: envelopeOf(
    'GroupCreated',
    z.object({ group_id: id, path, name, full_path: fullPath, parent_id: id.nullable() }).strict(),
  ),
  ProjectCreated: envelopeOf(
    'ProjectCreated',
    z.object({ project_id: id, path, name, full_path: fullPath, namespace_id: id }).strict(),
  ),
  MilestoneCreated: envelopeOf(
    'MilestoneCreated',
    z.object({ milestone_id: id, project_id: id, title: z.string().min(1).max(255) }).strict(),
  ),
  ReleaseCreated: envelopeOf(
    'ReleaseCreated',
    z.object({ ...releaseRef, description, milestones: milestoneTitles }).strict(),
  ),
  ReleaseUpdated: envelopeOf(
    'ReleaseUpdated',
    z
      .object({
        ...releaseRef,
        changes: z.object({ name: change(name).optional(), description: change(description).optional() }).strict(),
      })
      .strict(),
  ),
  ReleaseMilestonesChanged: envelopeOf(
    'ReleaseMilestonesChanged',
    z.object({ ...releaseRef, from: milestoneTitles, to: milestoneTitles }).strict(),
  ),
  ReleaseDeleted: envelopeOf('ReleaseDeleted', z.object(releaseRef).strict()),
  ReleaseEvidenceCollected: envelopeOf(
    'ReleaseEvidenceCollected',
    z.object({ ...releaseRef, evidence_id: id, sha: z.string().min(1).max(128) }).strict(),
  ),
  ReleaseAssetLinkAdded: envelopeOf('ReleaseAssetLinkAdded', z.object({ ...releaseRef, ...linkRef }).strict()),
  ReleaseAssetLinkRemoved: envelopeOf('ReleaseAssetLinkRemoved', z.object({ ...releaseRef, ...linkRef }).strict()),
  ReleaseArtifactDownloaded: envelopeOf('ReleaseArtifactDownloaded', z.object({ ...releaseRef, ...linkRef }).strict()),
  /**
   * An export of audit events is recorded before its first byte (started), so that an export that
   * cannot be recorded is refused rather than served, and again when it ends (exported: completed
   * or stopped, with the rows sent). Both carry the export's id.
   */
  AuditEventsExportStarted: envelopeOf(
    'AuditEventsExportStarted',
    z.object({ export_id: z.string().uuid(), format: exportFormat, filters: exportFilters }).strict(),
  ),
  AuditEventsExported: envelopeOf(
    'AuditEventsExported',
    z
      .object({
        // Optional: exports recorded before exports had a started event carry none.
        export_id: z.string().uuid().optional(),
        format: exportFormat,
        filters: exportFilters,
        row_count: z.number().int().nonnegative(),
        completed: z.boolean(),
      })
      .strict(),
  ),
  /**
   * The recorder signed the heads of the audit log's hash chains (docs/architecture.md, "Integrity"). `body` is
   * the signed text exactly, `signature` its Ed25519 signature: a SIEM holding these can verify the log
   * without trusting the database that stores it.
   */
  AuditLogCheckpointCreated: envelopeOf(
    'AuditLogCheckpointCreated',
    z
      .object({
        checkpoint_id: z.string().uuid(),
        sequence: z.number().int().positive(),
        reason: z.enum(['interval', 'shutdown', 'purge']),
        key_id: z.string().min(1).max(128),
        chains: z.number().int().nonnegative(),
        events: z.number().int().nonnegative(),
        body: z.string().min(1).max(512_000),
        signature: z.string().min(1).max(256),
      })
      .strict(),
  ),
  /** Whole months of audit events dropped by retention: which, how many, and where each chain was cut. */
  AuditEventsPurged: envelopeOf(
    'AuditEventsPurged',
    z
      .object({
        purge_id: z.string().uuid(),
        retention_days: z.number().int().positive(),
        before_month: z.string().regex(/^\d{4}-\d{2}$/),
        months: z.array(z.string().regex(/^\d{4}-\d{2}$/)).max(1200),
        events: z.number().int().nonnegative(),
        counts: z.record(z.string(), z.number().int().nonnegative()),
        ranges: z
          .array(
            z.object({ chain: z.string(), from: z.number().int(), to: z.number().int(), hash: z.string() }).strict(),
          )
          .max(10_000),
        heads: z.array(z.object({ chain: z.string(), seq: z.number().int(), hash: z.string() }).strict()).max(10_000),
      })
      .strict(),
  ),
  StreamingDestinationCreated: envelopeOf(
    'StreamingDestinationCreated',
    z.object({ ...destinationRef, event_type_filters: eventTypeFilters }).strict(),
  ),
  StreamingDestinationUpdated: envelopeOf(
    'StreamingDestinationUpdated',
    z
      .object({
        ...destinationRef,
        changes: z
          .object({
            name: change(name).optional(),
            destination_url: change(destinationUrl).optional(),
            event_type_filters: change(eventTypeFilters).optional(),
            active: change(z.boolean()).optional(),
          })
          .strict(),
      })
      .strict(),
  ),
  StreamingDestinationDeleted: envelopeOf('StreamingDestinationDeleted', z.object(destinationRef).strict()),
  /** Set inactive by the streamer itself (410 Gone, failing for too long): `reason` says why. */
  StreamingDestinationDeactivated: envelopeOf(
    'StreamingDestinationDeactivated',
    z.object({ ...destinationRef, reason: z.string().min(1).max(500) }).strict(),
  ),
  StreamingSigningSecretRotated: envelopeOf(
    'StreamingSigningSecretRotated',
    z.object({ ...destinationRef, previous_secret_expires_at: UtcTimestamp }).strict(),
  ),
  StreamingHeaderCreated: envelopeOf('StreamingHeaderCreated', z.object(headerRef).strict()),
  StreamingHeaderUpdated: envelopeOf(
    'StreamingHeaderUpdated',
    z.object({ ...headerRef, key_change: change(headerKey).optional(), value_changed: z.boolean() }).strict(),
  ),
  StreamingHeaderDeleted: envelopeOf('StreamingHeaderDeleted', z.object(headerRef).strict()),
} as const;

export type DomainEventType = keyof typeof DomainEventSchemas;
export const DOMAIN_EVENT_TYPES = Object.keys(DomainEventSchemas) as DomainEventType[];

export type DomainEventOf<T extends DomainEventType> = z.infer<(typeof DomainEventSchemas)[T]>;
export type DomainEvent = { [T in DomainEventType]: DomainEventOf<T> }[DomainEventType];

export const isDomainEventType = (type: unknown): type is DomainEventType =>
  typeof type === 'string' && Object.prototype.hasOwnProperty.call(DomainEventSchemas, type);
