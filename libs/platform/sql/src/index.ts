export * from './lib/sql';
export * from './lib/errors';
export * from './lib/pool';
export * from './lib/session';
