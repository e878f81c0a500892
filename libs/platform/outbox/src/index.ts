export * from './lib/outbox';
export * from './lib/outbox-relay.service';
export * from './lib/outbox-writer';
export { RELAY_LOCK_KEY } from './lib/relay-session';
