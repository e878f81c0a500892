export * from './lib/audit-event-id';
export * from './lib/to-audit-events';
export * from './lib/namespaces';
