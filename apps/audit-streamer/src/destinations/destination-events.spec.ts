import { DomainEventSchemas } from '@audit/contracts';
import {
  ChangeContext,
  DestinationFacts,
  destinationDeactivated,
  destinationUpdated,
  groupScope,
  headerUpdated,
  INSTANCE_SCOPE,
  STREAMER_ACTOR,
} from './destination-events';

const ctx: ChangeContext = {
  scope: groupScope(100, 'acme'),
  meta: {
    actor: { id: 7, name: 'olivia', ip_address: '203.0.113.7' },
    correlationId: 'corr-1',
    now: new Date('2026-11-21T10:15:30.123Z'),
  },
};
const before: DestinationFacts = {
  id: 3,
  name: 'SIEM',
  url: 'https://siem.example/a',
  eventTypeFilters: [],
  active: false,
};

describe('destinationUpdated', () => {
  it('lists each changed field with its old and new value, in a schema-valid envelope', () => {
    const after = { ...before, url: 'https://siem.example/b', eventTypeFilters: ['release_created'], active: true };
    const event = destinationUpdated(before, after, ctx);
    expect(DomainEventSchemas.StreamingDestinationUpdated.parse(event)).toEqual(event);
    expect(event).toMatchObject({
      type: 'StreamingDestinationUpdated',
      scope: { entity_type: 'Group', entity_id: 100, entity_path: 'acme' },
      actor: { id: 7, name: 'olivia' },
      correlation_id: 'corr-1',
      occurred_at: '2026-11-21T10:15:30.123Z',
      data: {
        destination_id: 3,
        destination_url: 'https://siem.example/b',
        changes: {
          destination_url: { from: 'https://siem.example/a', to: 'https://siem.example/b' },
          event_type_filters: { from: [], to: ['release_created'] },
          active: { from: false, to: true },
        },
      },
    });
    expect(event?.data).not.toHaveProperty('changes.name');
  });

  it('is null when the update sets what is already there', () => {
    expect(destinationUpdated(before, { ...before, eventTypeFilters: [] }, ctx)).toBeNull();
  });
});

describe('headerUpdated', () => {
  const header = { id: 9, key: 'X-Team' };

  it('names a changed value without carrying it, and gives old and new keys', () => {
    const event = headerUpdated(before, header, 'X-Squad', true, ctx);
    expect(event?.data).toEqual({
      destination_id: 3,
      destination_name: 'SIEM',
      destination_url: 'https://siem.example/a',
      header_id: 9,
      key: 'X-Squad',
      key_change: { from: 'X-Team', to: 'X-Squad' },
      value_changed: true,
    });
  });

  it('is null when neither key nor value changed', () => {
    expect(headerUpdated(before, header, 'X-Team', false, ctx)).toBeNull();
  });
});

describe('destinationDeactivated', () => {
  it('is the streamer acting on its own, with the reason, at instance scope for an instance destination', () => {
    const event = destinationDeactivated(before, 'the receiver answered 410 Gone', {
      scope: INSTANCE_SCOPE,
      meta: { ...ctx.meta, actor: STREAMER_ACTOR },
    });
    expect(event).toMatchObject({
      actor: { id: 0, name: 'audit-streamer', ip_address: null },
      scope: { entity_type: 'Instance', entity_id: 1, entity_path: 'instance' },
      data: { reason: 'the receiver answered 410 Gone' },
    });
  });
});
