import { parseDomainEvent } from './parse';

const valid = {
  id: '0f7c2c8e-6c2b-4c4e-9a57-1d3c0b2f9a10',
  type: 'GroupCreated',
  schema_version: 1,
  occurred_at: '2026-11-21T10:15:30.123Z',
  aggregate: { type: 'Group', id: '1', version: 1 },
  actor: { id: 1, name: 'alice', ip_address: null },
  scope: { entity_type: 'Group', entity_id: 1, entity_path: 'g' },
  correlation_id: 'c',
  data: { group_id: 1, path: 'g', name: 'G', full_path: 'g', parent_id: null },
};

describe('parseDomainEvent', () => {
  it('accepts a valid envelope', () => {
    expect(parseDomainEvent(Buffer.from(JSON.stringify(valid)))).toMatchObject({ ok: true });
  });

  it.each([
    ['unparseable', Buffer.from('{not json')],
    ['unparseable', null],
    ['unknown_type', Buffer.from(JSON.stringify({ ...valid, type: 'SomethingElse' }))],
    ['unknown_type', Buffer.from('42')],
    ['schema_invalid', Buffer.from(JSON.stringify({ ...valid, occurred_at: 'yesterday' }))],
    ['schema_invalid', Buffer.from(JSON.stringify({ ...valid, data: { ...valid.data, extra: 1 } }))],
  ])('rejects as %s', (reason, bytes) => {
    expect(parseDomainEvent(bytes)).toMatchObject({ ok: false, reason });
  });
});
