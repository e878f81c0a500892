import { v5 as uuidv5 } from 'uuid';

/** Fixed namespace of this platform's audit event ids. Never change it: ids are stored and streamed. */
export const AUDIT_EVENT_ID_NAMESPACE = '6f1c8e0a-2f7b-5d3e-9c41-8a7b2d5e4f10';

/**
 * The audit event id is derived from the domain event id and the audit type, so a redelivered
 * domain event maps to the same audit event and receivers can deduplicate on it.
 */
export const auditEventIdFor = (domainEventId: string, auditEventType: string): string =>
  uuidv5(`${domainEventId}/${auditEventType}`, AUDIT_EVENT_ID_NAMESPACE);
