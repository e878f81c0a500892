export * from './lib/wait-for';
export * from './lib/unique';
export * from './lib/tokens';
export * from './lib/kafka';
export * from './lib/http-receiver';
export * from './lib/fixtures';
export * from './lib/broker';
export * from './lib/databases';
