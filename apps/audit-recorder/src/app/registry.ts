export const AUDIT_EVENT_TYPES = Symbol('AUDIT_EVENT_TYPES');
