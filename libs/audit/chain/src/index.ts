export * from './lib/chain-hash';
export * from './lib/checkpoint';
export * from './lib/verifier';
export * from './lib/export-format';
export * from './lib/export-verify';
