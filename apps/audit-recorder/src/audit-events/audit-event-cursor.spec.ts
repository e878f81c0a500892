import { createHmac } from 'node:crypto';
import { AuditEventCursor, cursorKey, decodeCursor, encodeCursor } from './audit-event-cursor';

const key = cursorKey('test-secret-0123456789-0123456789-0123456789');
const cursor: AuditEventCursor = {
  sort: 'desc',
  createdAt: '2026-11-21T10:15:30.123456Z',
  id: '0f7c2c8e-6c2b-4c4e-9a57-1d3c0b2f9a10',
};

describe('audit event cursor', () => {
  it('round-trips position and sort', () => {
    expect(decodeCursor(encodeCursor(cursor, key), key)).toEqual(cursor);
    expect(decodeCursor(encodeCursor({ ...cursor, sort: 'asc' }, key), key)).toEqual({ ...cursor, sort: 'asc' });
  });

  it('is URL-safe and opaque', () => {
    const raw = encodeCursor(cursor, key);
    expect(raw).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(raw).not.toContain('2026');
  });

  it('refuses a cursor whose position was edited, even when well-formed', () => {
    const [, signature] = encodeCursor(cursor, key).split('.');
    const edited = Buffer.from(`v1|desc|2020-01-01T00:00:00.000000Z|${cursor.id}`).toString('base64url');
    expect(decodeCursor(`${edited}.${signature}`, key)).toBeNull();
  });

  it('refuses a cursor signed with another key', () => {
    expect(decodeCursor(encodeCursor(cursor, cursorKey('another-secret-0123456789-0123456789')), key)).toBeNull();
  });

  it.each([
    ['empty', ''],
    ['no signature', Buffer.from('v1|desc|x|y').toString('base64url')],
    ['garbage', 'not a cursor at all'],
    ['three parts', 'a.b.c'],
    ['short signature', `${encodeCursor(cursor, key).split('.')[0]}.AAAA`],
  ])('refuses a malformed cursor (%s)', (_, raw) => {
    expect(decodeCursor(raw, key)).toBeNull();
  });

  it('refuses a correctly signed body that is not a cursor', () => {
    // Signed with the right key, so only the content checks can stop it.
    const forge = (text: string) => {
      const body = Buffer.from(text).toString('base64url');
      return `${body}.${createHmac('sha256', key).update(body).digest().subarray(0, 16).toString('base64url')}`;
    };
    expect(decodeCursor(forge(`v1|desc|${cursor.createdAt}|${cursor.id}`), key)).toEqual(cursor);
    expect(decodeCursor(forge(`v1|sideways|${cursor.createdAt}|${cursor.id}`), key)).toBeNull();
    expect(decodeCursor(forge(`v1|desc|2026-11-21|${cursor.id}`), key)).toBeNull();
    expect(decodeCursor(forge(`v1|desc|${cursor.createdAt}|not-a-uuid`), key)).toBeNull();
    expect(decodeCursor(forge(`v2|desc|${cursor.createdAt}|${cursor.id}`), key)).toBeNull();
    expect(decodeCursor(forge(`v1|desc|${cursor.createdAt}|${cursor.id}|extra`), key)).toBeNull();
  });
});
