/**
 * One consumer of bench/consumer-failover.ts, in a process of its own so that it can be SIGKILLed: the
 * platform's BatchConsumer (as the recorder and the streamer run it) with a handler that only reports, over
 * IPC, which partition each chunk came from. Configured by FAILOVER_CONSUMER (JSON: brokers, topic, groupId,
 * sessionTimeout, heartbeatInterval).
 */
import { Logger } from '@nestjs/common';
import { Kafka, logLevel } from 'kafkajs';
import { BatchConsumer } from '../../libs/platform/kafka/src';

export interface FailoverConsumerConfig {
  brokers: string[];
  topic: string;
  groupId: string;
  sessionTimeout: number;
  heartbeatInterval: number;
}

/** What a consumer tells the bench. */
export type FailoverMessage = { type: 'ready'; clientId: string } | { type: 'chunk'; partition: number; at: number };

async function main(): Promise<void> {
  const config = JSON.parse(process.env['FAILOVER_CONSUMER'] ?? '') as FailoverConsumerConfig;
  Logger.overrideLogger(['error']);
  const clientId = `failover-${process.pid}`;
  const kafka = new Kafka({ brokers: config.brokers, clientId, logLevel: logLevel.NOTHING });
  const send = (message: FailoverMessage) => process.send?.(message);
  const consumer = new BatchConsumer(kafka, {
    groupId: config.groupId,
    topic: config.topic,
    sessionTimeout: config.sessionTimeout,
    heartbeatInterval: config.heartbeatInterval,
    handler: async (events) => {
      send({ type: 'chunk', partition: events[0].partition, at: Date.now() });
    },
  });
  process.once('SIGTERM', () => {
    void consumer.stop().finally(() => process.exit(0));
  });
  await consumer.start();
  send({ type: 'ready', clientId });
}

main().catch((err: Error) => {
  process.stderr.write(`failover consumer: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
