export * from './lib/kafka.constants';
export * from './lib/kafka.module';
export * from './lib/kafka-admin.service';
export * from './lib/batch-consumer';
export * from './lib/dead-letter';
export * from './lib/producer';
