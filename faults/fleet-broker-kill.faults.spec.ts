import { waitFor } from '@audit/testing';
import { Admin } from 'kafkajs';
import { locateInPipeline, storedSoFar } from './support/checks';
import { Fleet, startFleet, waitForGroup, withAdmin } from './support/fleet';
import { LoadDriver } from './support/load';
import {
  killClusterNode,
  OWN_CLUSTER_BROKERS,
  startClusterNode,
  startOwnCluster,
  stopOwnCluster,
} from './support/own-cluster';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 9: a fleet (two instances of each service) on a three-broker cluster of the suite's own
 * (support/own-cluster.ts). The services create their topics with 3 replicas and the relays publish
 * with acks=-1, so a broker lost under writes loses no acknowledged message (min.insync.replicas 2).
 * The leader of the busiest partition is SIGKILLed while releases are written; it stays down as long
 * as the Kafka outage of scenario 3 (and at least until the pipeline has stored events accepted since
 * the kill: two brokers are enough to go on), then is started again on its data and must rejoin
 * every partition's in-sync replicas.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + profile.kafkaOutageMs + 420_000);

const SCENARIO = '9. fleet: Kafka broker SIGKILLed under writes (3 brokers)';
let fleet: Fleet | undefined;

beforeAll(async () => {
  await startOwnCluster();
  fleet = await startFleet(SCENARIO, { brokers: OWN_CLUSTER_BROKERS });
});
afterAll(async () => {
  await fleet?.stop();
  await stopOwnCluster();
});

async function partitions(admin: Admin, topic: string) {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  return topics[0].partitions;
}

describe(SCENARIO, () => {
  it('stores and delivers every accepted action while the leader of the busiest partition is down', async () => {
    const { platform } = fleet as Fleet;
    await Promise.all([
      waitForGroup(platform, platform.groupIds.recorder, 2),
      waitForGroup(platform, platform.groupIds.streamer, 2),
    ]);
    const replication = await withAdmin(platform, async (admin) =>
      (await partitions(admin, platform.topic)).map((p) => p.replicas.length),
    );
    const load = new LoadDriver(platform, profile.ratePerSecond);
    let faultOver = false;
    const traffic = load.run({
      concurrency: profile.concurrency,
      done: () => faultOver && load.sent >= profile.actions,
    });
    await waitFor(
      'the recorders to store part of the traffic',
      async () => (await storedSoFar(platform)) >= profile.actions / 6,
      { timeoutMs: 60_000, intervalMs: 100 },
    );

    const victim = await withAdmin(platform, async (admin) => {
      const offsets = await admin.fetchTopicOffsets(platform.topic);
      const busiest = offsets.reduce((a, b) => (BigInt(b.high) > BigInt(a.high) ? b : a));
      const leader = (await partitions(admin, platform.topic)).find((p) => p.partitionId === busiest.partition)?.leader;
      return { partition: busiest.partition, messages: busiest.high, leader: leader as number };
    });
    await killClusterNode(victim.leader);
    const down = { at: Date.now(), accepted: load.accepted.length, failed: load.failed.length };
    // Two brokers are enough: events accepted after the kill must reach the recorders while it is down.
    let resumedAt: number | undefined;
    await waitFor(
      `${profile.kafkaOutageMs} ms with a broker down, and events accepted since stored`,
      async () => {
        if (resumedAt === undefined && (await storedSoFar(platform)) > down.accepted) resumedAt = Date.now();
        return Date.now() - down.at >= profile.kafkaOutageMs && resumedAt !== undefined;
      },
      { timeoutMs: profile.kafkaOutageMs + 120_000, intervalMs: 200 },
    );
    const duringOutage = { accepted: load.accepted.length - down.accepted, failed: load.failed.length - down.failed };
    const downSeconds = (Date.now() - down.at) / 1000;
    const restarting = Date.now();
    await startClusterNode(victim.leader);
    await withAdmin(platform, (admin) =>
      waitFor(
        'the restarted broker back in the in-sync replicas of every partition',
        async () => (await partitions(admin, platform.topic)).every((p) => p.isr.length === p.replicas.length),
        { timeoutMs: 120_000, intervalMs: 250 },
      ),
    );
    const rejoinSeconds = (Date.now() - restarting) / 1000;
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    // Where the missing ones were lost, if any: not published yet, acknowledged but gone, or never consumed.
    const lost = await locateInPipeline(platform, [...new Set(verdict.missing.map((e) => e.correlationId))]);
    reportRow(SCENARIO, verdict, {
      notes: [
        `broker ${victim.leader} (leader of partition ${victim.partition}, ${victim.messages} messages) down ${downSeconds.toFixed(1)} s`,
        `first event accepted after the kill stored ${(((resumedAt as number) - down.at) / 1000).toFixed(1)} s after it`,
        `${duringOutage.accepted} writes accepted and ${duringOutage.failed} failed meanwhile`,
        `back in every ISR ${rejoinSeconds.toFixed(1)} s after its start`,
        `topic replication ${[...new Set(replication)].join(', ')}`,
        `5xx: ${load.failed.length}`,
        ...lost.map(
          (l) =>
            `missing ${l.correlationId}: outbox ${l.outbox}, ${l.inTopic ? `in the topic at ${l.inTopic}` : 'not in the topic'}`,
        ),
      ],
    });
    expect(new Set(replication)).toEqual(new Set([3]));
    expect(duringOutage.accepted).toBeGreaterThan(0);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
