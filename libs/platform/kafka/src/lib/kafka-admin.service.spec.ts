import { Admin, ITopicConfig } from 'kafkajs';
import { ensureTopics, topicReplicationFactor } from './kafka-admin.service';

/**
 * What ensureTopics asks the cluster for, for clusters of several sizes. The cluster is an admin client that
 * answers listTopics, describeCluster and fetchTopicMetadata and records createTopics: the replication factor requested is the
 * point, and a real cluster would answer a factor of -1 with its own default, which hides it. The topics a
 * real 3-node cluster ends up with are checked in libs/platform/testing's kafka-cluster.int.spec.ts.
 */
function clusterOf(brokers: number, existing: string[] = []) {
  const created: ITopicConfig[] = [];
  const calls: string[] = [];
  const admin = {
    listTopics: async () => (calls.push('listTopics'), existing),
    describeCluster: async () => {
      calls.push('describeCluster');
      return {
        brokers: Array.from({ length: brokers }, (_, i) => ({ nodeId: i + 1, host: '127.0.0.1', port: 9092 + 2 * i })),
        controller: 1,
        clusterId: 'c',
      };
    },
    createTopics: async ({ topics }: { topics: ITopicConfig[] }) => {
      calls.push('createTopics');
      created.push(...topics);
      return true;
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      calls.push('fetchTopicMetadata');
      return { topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })) };
    },
  } as unknown as Admin;
  return { admin, created, calls };
}

describe('ensureTopics', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 3],
    [5, 3],
  ])('on a cluster of %i broker(s) creates the topic and its DLQ with %i replicas', async (brokers, replicas) => {
    const { admin, created } = clusterOf(brokers);
    await ensureTopics(admin, 'domain-events', 12);
    expect(created).toEqual([
      { topic: 'domain-events', numPartitions: 12, replicationFactor: replicas },
      { topic: 'domain-events.dlq', numPartitions: 1, replicationFactor: replicas },
    ]);
  });

  it('creates only the missing one', async () => {
    const { admin, created } = clusterOf(3, ['domain-events']);
    await ensureTopics(admin, 'domain-events', 12);
    expect(created).toEqual([{ topic: 'domain-events.dlq', numPartitions: 1, replicationFactor: 3 }]);
  });

  it('asks nothing more when both exist (every boot of a running platform)', async () => {
    const { admin, calls } = clusterOf(3, ['domain-events', 'domain-events.dlq']);
    await ensureTopics(admin, 'domain-events', 12);
    expect(calls).toEqual(['listTopics']);
  });

  it('never asks for more replicas than brokers, nor for fewer than one', () => {
    expect([0, 1, 2, 3, 4, 100].map(topicReplicationFactor)).toEqual([1, 1, 2, 3, 3, 3]);
  });
});
