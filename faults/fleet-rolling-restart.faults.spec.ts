import { waitFor } from '@audit/testing';
import { storedSoFar } from './support/checks';
import { Fleet, restartReplica, SERVICES, startFleet, stopReplica, waitForGroup } from './support/fleet';
import { LoadDriver } from './support/load';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 11: a rolling restart of a fleet of two instances of each service, under load. One instance
 * at a time gets SIGTERM (a release-service leaves the load's rotation first, as behind a load
 * balancer), must exit 0 within its shutdown deadline (in-flight requests answered, the consumer's
 * in-flight chunk committed, the group left), and is started again on the same port; the next one is
 * stopped only once it is ready (and, for a consumer, back in its group with partitions).
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 400_000);

const SCENARIO = '11. fleet: rolling restart of every service (SIGTERM)';
let fleet: Fleet;

beforeAll(async () => {
  fleet = await startFleet(SCENARIO);
});
afterAll(() => fleet?.stop());

describe(SCENARIO, () => {
  it('loses no write, stores and delivers everything while each instance is restarted in turn', async () => {
    const { platform } = fleet;
    await Promise.all([
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

    const restarts: Array<{ instance: string; code: number | null; seconds: number }> = [];
    for (const name of SERVICES) {
      for (const slot of fleet.replicas[name].keys()) {
        const started = Date.now();
        const code = await stopReplica(fleet, name, slot, 'SIGTERM');
        await restartReplica(fleet, name, slot);
        if (name !== 'release-service') {
          const group = name === 'audit-recorder' ? platform.groupIds.recorder : platform.groupIds.streamer;
          await waitForGroup(platform, group, fleet.replicas[name].length);
        }
        restarts.push({ instance: `${name} #${slot}`, code, seconds: (Date.now() - started) / 1000 });
      }
    }
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    const seconds = restarts.map((r) => r.seconds);
    reportRow(SCENARIO, verdict, {
      notes: [
        `${restarts.length} instances restarted one at a time, exit codes ${[...new Set(restarts.map((r) => r.code))].join(', ')}`,
        `SIGTERM to ready (and back in the group) ${Math.min(...seconds).toFixed(1)} to ${Math.max(...seconds).toFixed(1)} s`,
        `5xx or unanswered: ${load.failed.length}`,
      ],
    });
    // A graceful stop exits 0; anything else is the shutdown deadline or a crash on the way out.
    expect(restarts.filter((r) => r.code !== 0)).toEqual([]);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
