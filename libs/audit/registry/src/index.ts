export * from './lib/audit-event-type';
export * from './lib/load-registry';
