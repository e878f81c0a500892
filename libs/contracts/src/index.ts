export * from './lib/topics';
export * from './lib/domain-event';
export * from './lib/domain-event-types';
export * from './lib/audit-event';
export * from './lib/parse';
export * from './lib/envelope';
