import { ConsumerConfig, Kafka, logLevel } from 'kafkajs';
import { ChunkTransports } from './chunk-transports';
import { KafkaOptions } from './kafka.constants';

/**
 * The group membership timing of the service's configuration (KAFKA_SESSION_TIMEOUT_MS,
 * KAFKA_HEARTBEAT_INTERVAL_MS, through KafkaOptions) reaches the kafkajs consumer of every chunk transport.
 * No broker: the client is never connected, the consumer's configuration is read where it is made.
 */
const OPTIONS: KafkaOptions = {
  brokers: ['127.0.0.1:1'],
  clientId: 'spec',
  topic: 'domain-events',
  partitions: 12,
  consumerTiming: { sessionTimeoutMs: 7_000, heartbeatIntervalMs: 2_000 },
};

/** The configuration of each kafkajs consumer that `transports` makes for one pattern. */
async function consumerConfigs(transports: ChunkTransports, kafka: Kafka): Promise<ConsumerConfig[]> {
  const configs: ConsumerConfig[] = [];
  jest.spyOn(kafka, 'consumer').mockImplementation((config) => {
    configs.push(config as ConsumerConfig);
    throw new Error('made'); // stops listen() before anything connects
  });
  const transport = transports.create({ 'spec.chunks': { groupId: 'g', topic: 'domain-events' } });
  transport.addHandler(
    'spec.chunks',
    Object.assign(async () => undefined, { isEventHandler: true }),
    true,
  );
  const failed = await new Promise<unknown>((resolve) => void transport.listen(resolve));
  expect(failed).toEqual(new Error('made'));
  return configs;
}

describe('ChunkTransports', () => {
  const kafka = new Kafka({ brokers: OPTIONS.brokers, clientId: 'spec', logLevel: logLevel.NOTHING });

  it("gives every consumer the service's session timeout and heartbeat interval", async () => {
    const [config] = await consumerConfigs(new ChunkTransports(kafka, OPTIONS), kafka);
    expect(config).toMatchObject({ groupId: 'g', sessionTimeout: 7_000, heartbeatInterval: 2_000 });
    // Long enough for a slow chunk to finish while its heartbeats keep the membership (BatchConsumer).
    expect(config.rebalanceTimeout).toBe(60_000);
  });

  it("falls back to BatchConsumer's 10 s session and 1 s heartbeat without them", async () => {
    const [config] = await consumerConfigs(new ChunkTransports(kafka), kafka);
    expect(config).toMatchObject({ sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  });

  afterEach(() => jest.restoreAllMocks());
});
