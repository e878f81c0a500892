import { waitFor } from '@audit/testing';
import { storedSoFar } from './support/checks';
import { LoadDriver } from './support/load';
import { OWN_BROKERS, startOwnBroker, stopOwnBroker } from './support/own-broker';
import { Platform, startPlatform } from './support/platform';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 3: the Kafka broker stopped for 30 seconds (10 in the short profile) while releases keep
 * being written, then started again. Writes must keep succeeding (the outbox holds what cannot be
 * published), and once the broker is back everything accepted must reach the recorder and the
 * destinations. Runs on the suite's own broker (support/own-broker.ts), not the shared one.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + profile.kafkaOutageMs + 300_000);

const SCENARIO = '3. Kafka broker stopped while releases are written';
let platform: Platform;

beforeAll(async () => {
  await startOwnBroker();
  platform = await startPlatform(SCENARIO, { brokers: OWN_BROKERS });
});
afterAll(async () => {
  await platform?.stop();
  await stopOwnBroker();
});

describe(SCENARIO, () => {
  it('accepts every write during the outage, then stores and delivers every one of them', async () => {
    const load = new LoadDriver(platform, profile.ratePerSecond);
    let faultOver = false;
    const traffic = load.run({
      concurrency: profile.concurrency,
      done: () => faultOver && load.sent >= profile.actions,
    });

    await waitFor(
      'the recorder to store part of the traffic',
      async () => (await storedSoFar(platform)) >= profile.actions / 6,
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await stopOwnBroker();
    const down = { at: Date.now(), accepted: load.accepted.length, failed: load.failed.length };
    // The outage's length is the fault itself: traffic flows for that long, and must be accepted.
    await waitFor(
      `${profile.kafkaOutageMs} ms of writes without Kafka`,
      () => Date.now() - down.at >= profile.kafkaOutageMs && load.accepted.length > down.accepted,
      { timeoutMs: profile.kafkaOutageMs + 60_000, intervalMs: 100 },
    );
    const duringOutage = { accepted: load.accepted.length - down.accepted, failed: load.failed.length - down.failed };
    await startOwnBroker();
    const outageS = ((Date.now() - down.at) / 1000).toFixed(1);
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    reportRow(SCENARIO, verdict, {
      notes: [
        `broker down ${outageS} s`,
        `${duringOutage.accepted} writes accepted and ${duringOutage.failed} failed during the outage`,
        `5xx: ${load.failed.length}`,
      ],
    });
    expect(duringOutage.accepted).toBeGreaterThan(0);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
