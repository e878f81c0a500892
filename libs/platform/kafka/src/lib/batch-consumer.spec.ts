import { Logger } from '@nestjs/common';
import { Kafka, logLevel } from 'kafkajs';
import { BatchConsumer } from './batch-consumer';

/**
 * start() against a cluster where the broker asked does not know the topic yet (created a moment ago by a
 * service booting beside this one). The race cannot be provoked on demand against a real cluster, so the
 * kafkajs consumer answers subscribe as such a broker would: "unknown topic" a few times, then it is known.
 */
function consumerThatFails(subscribeErrors: Error[]) {
  const kafka = new Kafka({ brokers: ['127.0.0.1:1'], clientId: 'spec', logLevel: logLevel.NOTHING });
  const subscribe = jest.fn(async () => {
    const error = subscribeErrors.shift();
    if (error) throw error;
  });
  const consumer = { connect: jest.fn(async () => undefined), subscribe, run: jest.fn(async () => undefined) };
  jest.spyOn(kafka, 'consumer').mockReturnValue(consumer as unknown as ReturnType<Kafka['consumer']>);
  jest
    .spyOn(kafka, 'producer')
    .mockReturnValue({ connect: async () => undefined } as unknown as ReturnType<Kafka['producer']>);
  const batchConsumer = new BatchConsumer(kafka, { groupId: 'g', topic: 't', handler: async () => undefined });
  return { batchConsumer, subscribe, run: consumer.run };
}

/** What kafkajs throws for a metadata answer with error code 3 (a KafkaJSProtocolError carries the same type). */
const unknownTopic = () =>
  Object.assign(new Error('This server does not host this topic-partition'), {
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
    retriable: true,
  });

describe('BatchConsumer.start', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(() => jest.restoreAllMocks());

  it('subscribes again while the topic is unknown to the broker asked, then consumes', async () => {
    const { batchConsumer, subscribe, run } = consumerThatFails([unknownTopic(), unknownTopic()]);
    await batchConsumer.start();
    expect(subscribe).toHaveBeenCalledTimes(3);
    expect(subscribe).toHaveBeenLastCalledWith({ topic: 't', fromBeginning: true });
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('fails at once on any other error', async () => {
    const { batchConsumer, subscribe, run } = consumerThatFails([new Error('SASL authentication failed')]);
    await expect(batchConsumer.start()).rejects.toThrow('SASL authentication failed');
    expect(subscribe).toHaveBeenCalledTimes(1);
    expect(run).not.toHaveBeenCalled();
  });
});
