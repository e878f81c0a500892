export * from './lib/domain-errors';
export * from './lib/decider';
