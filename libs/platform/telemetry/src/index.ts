export * from './lib/metrics';
export * from './lib/tracing';
export * from './lib/telemetry';
