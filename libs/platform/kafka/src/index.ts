export * from './lib/kafka.constants';
export * from './lib/kafka.module';
export * from './lib/kafka-admin.service';
export * from './lib/batch-consumer';
export * from './lib/dead-letter';
export * from './lib/producer';
export * from './lib/kafka-chunk-transport';
export * from './lib/chunk-transports';
