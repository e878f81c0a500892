import { parseGlobalId, toGlobalId } from './global-id';

describe('global ids', () => {
  it('formats the documented gids', () => {
    expect(toGlobalId('destination', 24601)).toBe('gid://gitlab/AuditEvents::ExternalAuditEventDestination/24601');
    expect(toGlobalId('header', 24255)).toBe('gid://gitlab/AuditEvents::Streaming::Header/24255');
    expect(toGlobalId('group', 7)).toBe('gid://gitlab/Group/7');
  });

  it('parses a gid of the expected model back to its number', () => {
    expect(parseGlobalId('gid://gitlab/AuditEvents::ExternalAuditEventDestination/24601', 'destination')).toBe(24601);
    expect(parseGlobalId('gid://gitlab/AuditEvents::Streaming::Header/1', 'header')).toBe(1);
    expect(parseGlobalId(toGlobalId('group', 42), 'group')).toBe(42);
  });

  it.each([
    ['another model', 'gid://gitlab/AuditEvents::Streaming::Header/1'],
    ['a prefix of the model', 'gid://gitlab/AuditEvents::ExternalAuditEventDestinationX/1'],
    ['a bare number', '24601'],
    ['no id', 'gid://gitlab/AuditEvents::ExternalAuditEventDestination/'],
    ['a non-numeric id', 'gid://gitlab/AuditEvents::ExternalAuditEventDestination/abc'],
    ['a negative id', 'gid://gitlab/AuditEvents::ExternalAuditEventDestination/-1'],
    ['zero', 'gid://gitlab/AuditEvents::ExternalAuditEventDestination/0'],
    ['a too large id', 'gid://gitlab/AuditEvents::ExternalAuditEventDestination/1234567890123456'],
    ['trailing text', 'gid://gitlab/AuditEvents::ExternalAuditEventDestination/1/extra'],
    ['another app', 'gid://other/AuditEvents::ExternalAuditEventDestination/1'],
    ['not a string', 24601],
  ])('refuses %s', (_what, value) => {
    expect(parseGlobalId(value, 'destination')).toBeNull();
  });
});
