import type { RecordMetadata } from 'kafkajs';
import { Routed, unacknowledged } from './relay-producer';

const ack = (topicName: string, partition: number, errorCode = 0): RecordMetadata => ({
  topicName,
  partition,
  errorCode,
  baseOffset: '0',
});
const routed = (): Routed =>
  new Map([
    [
      'events',
      new Map([
        [0, [{ key: 'Project:1', value: 'a' }]],
        [1, [{ key: 'Project:2', value: 'b' }]],
        [2, [{ key: 'Project:3', value: 'c' }]],
      ]),
    ],
    ['other', new Map([[0, [{ key: 'Group:1', value: 'd' }]]])],
  ]);

describe('unacknowledged', () => {
  it('is empty when every partition of the send was acknowledged', () => {
    expect(unacknowledged(routed(), [ack('events', 0), ack('events', 1), ack('events', 2), ack('other', 0)]).size).toBe(
      0,
    );
  });

  it('keeps, with their messages, the partitions a resolved send never acknowledged (a dead leader moved)', () => {
    const left = unacknowledged(routed(), [ack('events', 0), ack('events', 2), ack('other', 0)]);
    expect([...left]).toEqual([['events', new Map([[1, [{ key: 'Project:2', value: 'b' }]]])]]);
  });

  it('keeps partitions acknowledged with an error, and tells topics apart', () => {
    const left = unacknowledged(routed(), [ack('events', 0), ack('events', 1, 6), ack('events', 2), ack('events', 9)]);
    expect([...left.keys()]).toEqual(['events', 'other']);
    expect([...(left.get('events')?.keys() ?? [])]).toEqual([1]);
  });
});
