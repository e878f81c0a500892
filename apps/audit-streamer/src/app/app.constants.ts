/** Injection token of the AuditEventTypeRegistry loaded at boot. */
export const AUDIT_EVENT_TYPES = Symbol('AUDIT_EVENT_TYPES');
