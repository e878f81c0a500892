import { AuditEventSchema, DomainEvent, DomainEventSchemas } from '@audit/contracts';
import { auditEventIdFor } from './audit-event-id';
import { toAuditEvents } from './to-audit-events';

const meta = {
  id: '0f7c2c8e-6c2b-4c4e-9a57-1d3c0b2f9a10',
  schema_version: 1 as const,
  occurred_at: '2026-11-21T10:15:30.123Z',
  aggregate: { type: 'Release', id: '7', version: 1 },
  actor: { id: 1, name: 'alice', ip_address: '203.0.113.7' },
  scope: { entity_type: 'Project' as const, entity_id: 29, entity_path: 'example-group/example-project' },
  correlation_id: 'corr-1',
};
const release = { release_id: 7, project_id: 29, tag_name: 'v0.3', name: 'New Release' };
const event = (value: unknown): DomainEvent => {
  const type = (value as { type: keyof typeof DomainEventSchemas }).type;
  return DomainEventSchemas[type].parse(value) as DomainEvent;
};

describe('toAuditEvents', () => {
  it('maps ReleaseCreated without milestones to its documented message, in the shape of docs/contracts.md', () => {
    const [audit] = toAuditEvents(
      event({ ...meta, type: 'ReleaseCreated', data: { ...release, description: 'secret notes', milestones: [] } }),
    );
    expect(AuditEventSchema.parse(audit)).toEqual(audit);
    expect(audit).toMatchObject({
      id: auditEventIdFor(meta.id, 'release_created'),
      author_id: 1,
      author_name: 'alice',
      entity_id: 29,
      entity_type: 'Project',
      entity_path: 'example-group/example-project',
      target_id: 7,
      target_type: 'Release',
      target_details: 'New Release',
      ip_address: '203.0.113.7',
      created_at: '2026-11-21T10:15:30.123Z',
      event_type: 'release_created',
      details: {
        custom_message: 'Created Release v0.3',
        target_details: 'New Release',
        author_name: 'alice',
        entity_path: 'example-group/example-project',
      },
    });
    expect(JSON.stringify(audit)).not.toContain('secret notes');
  });

  it('lists milestones in the order given: "Created Release v0.3 with milestones v1.0, v1.1"', () => {
    const [audit] = toAuditEvents(
      event({ ...meta, type: 'ReleaseCreated', data: { ...release, description: null, milestones: ['v1.1', 'v1.0'] } }),
    );
    expect(audit.details.custom_message).toBe('Created Release v0.3 with milestones v1.1, v1.0');
  });

  it('names a changed description without its values, and gives old and new values of the name', () => {
    const [audit] = toAuditEvents(
      event({
        ...meta,
        type: 'ReleaseUpdated',
        data: {
          ...release,
          changes: {
            name: { from: 'Old', to: 'New Release' },
            description: { from: 'a secret', to: 'another secret' },
          },
        },
      }),
    );
    expect(audit.details.custom_message).toBe('Updated Release v0.3');
    expect(audit.details['changes']).toEqual([
      { field: 'name', from: 'Old', to: 'New Release' },
      { field: 'description' },
    ]);
    expect(JSON.stringify(audit)).not.toMatch(/secret/);
  });

  it('words a milestone change as documented', () => {
    const [audit] = toAuditEvents(
      event({ ...meta, type: 'ReleaseMilestonesChanged', data: { ...release, from: ['v1.0'], to: ['v1.0', 'v1.1'] } }),
    );
    expect(audit.event_type).toBe('release_milestones_updated');
    expect(audit.details.custom_message).toBe('Milestones associated with release changed to v1.0, v1.1');
  });

  it('derives the same id for a redelivered event and different ids for different events', () => {
    const created = event({ ...meta, type: 'ReleaseCreated', data: { ...release, description: null, milestones: [] } });
    expect(toAuditEvents(created)[0].id).toBe(toAuditEvents(structuredClone(created))[0].id);
    const other = event({
      ...meta,
      id: '1f7c2c8e-6c2b-4c4e-9a57-1d3c0b2f9a10',
      type: 'ReleaseCreated',
      data: { ...release, description: null, milestones: [] },
    });
    expect(toAuditEvents(other)[0].id).not.toBe(toAuditEvents(created)[0].id);
  });

  it('records an export with who, which filters and how many rows, at instance scope', () => {
    const exported = event({
      ...meta,
      type: 'AuditEventsExported',
      aggregate: { type: 'AuditEventsExport', id: meta.id, version: 1 },
      scope: { entity_type: 'Instance', entity_id: 1, entity_path: 'instance' },
      data: {
        format: 'csv',
        filters: { event_type: ['release_created'], sort: 'desc' },
        row_count: 1200,
        completed: true,
      },
    });
    const [audit] = toAuditEvents(exported);
    expect(AuditEventSchema.parse(audit)).toEqual(audit);
    expect(audit).toMatchObject({
      event_type: 'audit_events_exported',
      author_name: 'alice',
      entity_type: 'Instance',
      target_type: 'AuditEvent',
      target_id: null,
      details: {
        custom_message: 'Exported 1200 audit events as CSV',
        filters: { event_type: ['release_created'], sort: 'desc' },
        row_count: 1200,
        completed: true,
      },
    });
    const [stopped] = toAuditEvents(event({ ...exported, data: { ...exported.data, completed: false } } as unknown));
    expect(stopped.details.custom_message).toBe('Export of audit events as CSV stopped after 1200 rows');
  });

  it('records the start of an export, before its first row, under the same export id as its end', () => {
    const exportId = '5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const scope = { entity_type: 'Project' as const, entity_id: 7, entity_path: 'acme/web' };
    const started = event({
      ...meta,
      type: 'AuditEventsExportStarted',
      aggregate: { type: 'AuditEventsExport', id: exportId, version: 1 },
      scope,
      data: { export_id: exportId, format: 'csv', filters: { sort: 'asc' } },
    });
    const ended = event({
      ...meta,
      id: '2f7c2c8e-6c2b-4c4e-9a57-1d3c0b2f9a10',
      type: 'AuditEventsExported',
      aggregate: { type: 'AuditEventsExport', id: exportId, version: 2 },
      scope,
      data: { export_id: exportId, format: 'csv', filters: { sort: 'asc' }, row_count: 3, completed: true },
    });
    const [a] = toAuditEvents(started);
    const [b] = toAuditEvents(ended);
    expect(AuditEventSchema.parse(a)).toEqual(a);
    expect(a).toMatchObject({
      event_type: 'audit_events_export_started',
      target_type: 'AuditEvent',
      details: { custom_message: 'Started an export of audit events as CSV', export_id: exportId },
    });
    expect(b.details).toMatchObject({ export_id: exportId, row_count: 3 });
  });

  describe('streaming configuration', () => {
    const group = {
      ...meta,
      aggregate: { type: 'StreamingDestination', id: '3', version: 1 },
      scope: { entity_type: 'Group' as const, entity_id: 100, entity_path: 'acme' },
    };
    const destination = { destination_id: 3, destination_name: 'SIEM', destination_url: 'https://siem.example/ingest' };

    it('records a created destination against the group, with its URL in the message', () => {
      const [audit] = toAuditEvents(
        event({ ...group, type: 'StreamingDestinationCreated', data: { ...destination, event_type_filters: [] } }),
      );
      expect(AuditEventSchema.parse(audit)).toEqual(audit);
      expect(audit).toMatchObject({
        event_type: 'audit_events_streaming_destination_created',
        entity_type: 'Group',
        entity_id: 100,
        entity_path: 'acme',
        target_type: 'StreamingDestination',
        target_id: 3,
        target_details: 'SIEM',
        details: { custom_message: 'Created audit event streaming destination https://siem.example/ingest' },
      });
    });

    it('words an update with the old and new values of each changed field', () => {
      const [audit] = toAuditEvents(
        event({
          ...group,
          type: 'StreamingDestinationUpdated',
          data: {
            ...destination,
            changes: {
              destination_url: { from: 'https://old.example/x', to: 'https://siem.example/ingest' },
              event_type_filters: { from: [], to: ['release_created'] },
            },
          },
        }),
      );
      expect(audit.details.custom_message).toBe(
        'Updated audit event streaming destination SIEM: URL from https://old.example/x to https://siem.example/ingest; event type filters from all types to release_created',
      );
      expect(audit.details['changes']).toEqual([
        { field: 'destination_url', from: 'https://old.example/x', to: 'https://siem.example/ingest' },
        { field: 'event_type_filters', from: [], to: ['release_created'] },
      ]);
    });

    it('names a header by its key and a changed value without any value', () => {
      const [audit] = toAuditEvents(
        event({
          ...group,
          type: 'StreamingHeaderUpdated',
          data: {
            ...destination,
            header_id: 9,
            key: 'X-Squad',
            key_change: { from: 'X-Team', to: 'X-Squad' },
            value_changed: true,
          },
        }),
      );
      expect(audit).toMatchObject({
        event_type: 'audit_events_streaming_header_updated',
        target_type: 'StreamingHeader',
        target_id: 9,
        target_details: 'X-Squad',
        details: {
          custom_message:
            'Updated custom HTTP header X-Squad (renamed from X-Team) of audit event streaming destination https://siem.example/ingest',
        },
      });
      expect(audit.details['changes']).toEqual([{ field: 'key', from: 'X-Team', to: 'X-Squad' }, { field: 'value' }]);
    });

    it.each([
      [
        'StreamingDestinationDeleted',
        destination,
        'audit_events_streaming_destination_deleted',
        'Deleted audit event streaming destination https://siem.example/ingest',
      ],
      [
        'StreamingDestinationDeactivated',
        { ...destination, reason: 'the receiver answered 410 Gone' },
        'audit_events_streaming_destination_deactivated',
        'Deactivated audit event streaming destination https://siem.example/ingest: the receiver answered 410 Gone',
      ],
      [
        'StreamingSigningSecretRotated',
        { ...destination, previous_secret_expires_at: '2026-11-22T10:15:30.123Z' },
        'audit_events_streaming_signing_secret_rotated',
        'Rotated the signing secret of audit event streaming destination https://siem.example/ingest',
      ],
      [
        'StreamingHeaderCreated',
        { ...destination, header_id: 9, key: 'X-Team' },
        'audit_events_streaming_header_created',
        'Created custom HTTP header X-Team for audit event streaming destination https://siem.example/ingest',
      ],
      [
        'StreamingHeaderDeleted',
        { ...destination, header_id: 9, key: 'X-Team' },
        'audit_events_streaming_header_deleted',
        'Deleted custom HTTP header X-Team from audit event streaming destination https://siem.example/ingest',
      ],
    ])('maps %s to %s', (type, data, eventType, message) => {
      const [audit] = toAuditEvents(event({ ...group, type, data }));
      expect(AuditEventSchema.parse(audit)).toEqual(audit);
      expect(audit.event_type).toBe(eventType);
      expect(audit.details.custom_message).toBe(message);
    });
  });
});
