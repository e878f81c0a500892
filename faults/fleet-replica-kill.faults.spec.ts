import { waitFor } from '@audit/testing';
import { storedSoFar, waitForOpenTransaction } from './support/checks';
import { Failover, Fleet, measureFailover, running, startFleet, stopReplica, waitForGroup } from './support/fleet';
import { LoadDriver } from './support/load';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 10: a fleet of two instances of each service; the load spreads its requests over both
 * release-services. One recorder is SIGKILLed while it writes a chunk (its insert seen open in
 * pg_stat_activity, on a connection of that process), then one streamer while it writes a chunk of
 * deliveries; neither comes back. The survivors must take over the dead members' partitions once the
 * group notices (the session timeout), and the surviving streamer the deliveries the dead one had
 * leased (once the leases expire). Measured: seconds from each SIGKILL until the dead member's
 * partitions are consumed again.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 300_000);

const SCENARIO = '10. fleet: a recorder and a streamer replica SIGKILLed mid-chunk';
/** Longest wait for a group to notice a dead member and hand its partitions over: the session timeout and then some. */
const FAILOVER_TIMEOUT_MS = 120_000;
let fleet: Fleet;

beforeAll(async () => {
  fleet = await startFleet(SCENARIO, { env: { 'audit-recorder': { CONSUMER_CHUNK_SIZE: '20' } } });
});
afterAll(() => fleet?.stop());

const failoverText = (name: string, f: Failover) =>
  `${name} ${f.seconds.toFixed(1)} s (partitions ${f.partitions.join(', ')})`;

describe(SCENARIO, () => {
  it('keeps storing and delivering every accepted action after a recorder and a streamer die', async () => {
    const { platform } = fleet;
    const [recorderGroup, streamerGroup] = await Promise.all([
      waitForGroup(platform, platform.groupIds.recorder, 2),
      waitForGroup(platform, platform.groupIds.streamer, 2),
    ]);
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
    const killAmid = async (name: 'audit-recorder' | 'audit-streamer', database: string, statements: string[]) => {
      const replicas = running(fleet, name);
      const pid = await waitForOpenTransaction(database, 60_000, { pids: replicas.map((r) => r.pid), statements });
      const slot = fleet.replicas[name].findIndex((r) => r.pid === pid);
      const code = await stopReplica(fleet, name, slot, 'SIGKILL');
      return { slot, code, killedAt: Date.now(), accepted: load.accepted.length };
    };
    const recorderKill = await killAmid('audit-recorder', platform.databases.recorder, ['insert into audit_events']);
    const recorderFailover = measureFailover(
      platform,
      platform.groupIds.recorder,
      recorderGroup,
      recorderKill.killedAt,
      FAILOVER_TIMEOUT_MS,
    );
    const stored = await storedSoFar(platform);
    const streamerKill = await killAmid('audit-streamer', platform.databases.streamer, ['insert into deliveries']);
    const streamerFailover = measureFailover(
      platform,
      platform.groupIds.streamer,
      streamerGroup,
      streamerKill.killedAt,
      FAILOVER_TIMEOUT_MS,
    );
    const [recorder, streamer] = await Promise.all([recorderFailover, streamerFailover]);
    const after = load.accepted.length;
    await waitFor('traffic to go on after the failover', () => load.accepted.length >= after + profile.actions / 5, {
      timeoutMs: 120_000,
      intervalMs: 50,
    });
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    reportRow(SCENARIO, verdict, {
      failover: `${failoverText('recorder', recorder)}; ${failoverText('streamer', streamer)}`,
      notes: [
        `recorder #${recorderKill.slot} killed inserting a chunk at ${stored} stored of ${recorderKill.accepted} accepted`,
        `streamer #${streamerKill.slot} killed inserting deliveries at ${streamerKill.accepted} accepted`,
        `5xx: ${load.failed.length}`,
      ],
    });
    // Null: the signal ended them, they had not exited by themselves before.
    expect([recorderKill.code, streamerKill.code]).toEqual([null, null]);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
