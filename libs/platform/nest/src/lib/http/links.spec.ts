import { ownUrlWith } from './links';

describe('ownUrlWith', () => {
  it('replaces the given parameters and keeps the others, repeated ones included', () => {
    expect(
      ownUrlWith(
        { originalUrl: '/api/v4/audit_events?event_type=a&event_type=b&cursor=old' },
        { cursor: 'new', per_page: '5' },
      ),
    ).toBe('/api/v4/audit_events?event_type=a&event_type=b&cursor=new&per_page=5');
  });

  it('is absolute on PUBLIC_URL when one is configured, and never names another host', () => {
    expect(ownUrlWith({ originalUrl: '/api/v4/x?a=1' }, { page: '2' }, 'https://audit.example.com/prefix')).toBe(
      'https://audit.example.com/prefix/api/v4/x?a=1&page=2',
    );
    expect(ownUrlWith({ originalUrl: '//evil.example/api/v4/x' }, { page: '2' })).toBe('/api/v4/x?page=2');
    expect(ownUrlWith({ originalUrl: 'http://evil.example:666/api/v4/x' }, { page: '2' })).toBe('/api/v4/x?page=2');
  });
});
