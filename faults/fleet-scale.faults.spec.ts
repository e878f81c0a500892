import { waitFor } from '@audit/testing';
import { addReplica, Fleet, startFleet, stopReplica, waitForGroup } from './support/fleet';
import { LoadDriver } from './support/load';
import { faultsProfile } from './support/profile';
import { CountingReceiver, startCountingReceiver } from './support/receiver';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 12: the streamer group scaled from one instance to three and back to one under load. The
 * two added instances must each get partitions and deliver; scaling down stops the first instance
 * and the last one added (SIGTERM, exit 0), leaving only an instance that joined later: the
 * deliveries the stopped ones had leased go back to the claim and are sent by the one left.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 300_000);

const SCENARIO = '12. fleet: streamer group scaled 1 → 3 → 1';
let fleet: Fleet | undefined;

const streamerPids = () => fleet?.replicas['audit-streamer'].map((s) => s.pid) ?? [];

beforeAll(async () => {
  fleet = await startFleet(SCENARIO, {
    replicas: { 'release-service': 1, 'audit-recorder': 1, 'audit-streamer': 1 },
    receiver: () => startCountingReceiver({ senders: streamerPids }),
  });
});
afterAll(() => fleet?.stop());

describe(SCENARIO, () => {
  it('delivers every accepted action while the streamer group grows and shrinks', async () => {
    const f = fleet as Fleet;
    const { platform } = f;
    const group = platform.groupIds.streamer;
    const receivers = platform.destinations.map((d) => d.receiver as CountingReceiver);
    const load = new LoadDriver(platform, profile.ratePerSecond);
    let faultOver = false;
    const traffic = load.run({
      concurrency: profile.concurrency,
      done: () => faultOver && load.sent >= profile.actions,
    });
    await waitFor('part of the traffic to be delivered', () => receivers[0].delivered().size >= profile.actions / 6, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });

    let started = Date.now();
    await Promise.all([addReplica(f, 'audit-streamer'), addReplica(f, 'audit-streamer')]);
    await waitForGroup(platform, group, 3);
    const upSeconds = (Date.now() - started) / 1000;
    // Each new instance must deliver, not merely hold partitions.
    const sentBy = () => {
      const sent = new Map<number, number>();
      for (const r of receivers) for (const [pid, n] of r.sentBy()) sent.set(pid, (sent.get(pid) ?? 0) + n);
      return sent;
    };
    const scaledUp = streamerPids();
    await waitFor(
      'each of the three streamers to deliver',
      () => scaledUp.every((pid) => (sentBy().get(pid) ?? 0) > 0),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    );
    const atThree = load.accepted.length;
    await waitFor(
      'traffic to go on with three streamers',
      () => load.accepted.length >= atThree + profile.actions / 5,
      {
        timeoutMs: 120_000,
        intervalMs: 50,
      },
    );

    started = Date.now();
    const codes = await Promise.all([stopReplica(f, 'audit-streamer', 0), stopReplica(f, 'audit-streamer', 2)]);
    await waitForGroup(platform, group, 1);
    const downSeconds = (Date.now() - started) / 1000;
    const atOne = load.accepted.length;
    await waitFor('traffic to go on with one streamer', () => load.accepted.length >= atOne + profile.actions / 5, {
      timeoutMs: 120_000,
      intervalMs: 50,
    });
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    const sent = sentBy();
    reportRow(SCENARIO, verdict, {
      notes: [
        `1 → 3 in ${upSeconds.toFixed(1)} s (start to group stable), 3 → 1 in ${downSeconds.toFixed(1)} s (SIGTERM to group stable)`,
        `requests sent by streamer #0 / #1 / #2: ${scaledUp.map((pid) => sent.get(pid) ?? 0).join(' / ')}`,
        `exit codes ${codes.join(', ')}`,
        `5xx: ${load.failed.length}`,
      ],
    });
    expect(codes).toEqual([0, 0]);
    expect(scaledUp.map((pid) => (sent.get(pid) ?? 0) > 0)).toEqual([true, true, true]);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
