import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Keyset cursors: the (created_at, id) of the last row of a page and the order it was read in,
 * authenticated with an HMAC so that an edited cursor is a 400 instead of a jump to an arbitrary
 * position. Opaque to clients; only this module reads or writes the format.
 */

export type SortOrder = 'asc' | 'desc';

/** created_at with the database's microseconds, so rows sharing a millisecond are neither skipped nor repeated. */
export interface CursorPosition {
  createdAt: string;
  id: string;
}

export interface AuditEventCursor extends CursorPosition {
  sort: SortOrder;
}

const VERSION = 'v1';
const MAC_BYTES = 16;
const CREATED_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A key of its own, derived from the service secret, so a cursor MAC can never pass as anything else. */
export const cursorKey = (secret: string): Buffer =>
  createHmac('sha256', secret).update('audit-events/cursor').digest();

const mac = (body: string, key: Buffer): Buffer =>
  createHmac('sha256', key).update(body).digest().subarray(0, MAC_BYTES);

export function encodeCursor(cursor: AuditEventCursor, key: Buffer): string {
  const body = Buffer.from([VERSION, cursor.sort, cursor.createdAt, cursor.id].join('|')).toString('base64url');
  return `${body}.${mac(body, key).toString('base64url')}`;
}

/** The cursor, or null if it is malformed, was edited, or was signed with another key. */
export function decodeCursor(raw: string, key: Buffer): AuditEventCursor | null {
  const [body, signature, ...rest] = raw.split('.');
  if (!body || !signature || rest.length > 0) return null;
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(body, key))) return null;
  const [version, sort, createdAt, id, ...extra] = Buffer.from(body, 'base64url').toString('utf8').split('|');
  if (version !== VERSION || extra.length > 0) return null;
  if ((sort !== 'asc' && sort !== 'desc') || !CREATED_AT.test(createdAt ?? '') || !UUID.test(id ?? '')) return null;
  return { sort, createdAt, id };
}
