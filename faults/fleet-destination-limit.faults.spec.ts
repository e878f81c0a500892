import { Fleet, startFleet, waitForGroup } from './support/fleet';
import { LoadDriver } from './support/load';
import { faultsProfile } from './support/profile';
import { CountingReceiver, startCountingReceiver } from './support/receiver';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 13: DELIVERY_CONCURRENCY_PER_DESTINATION is a limit of the destination, not of each
 * streamer. Two streamers with a limit of 4 share one destination whose receiver holds every request
 * a while; the load comes in a burst faster than 4 requests at a time can drain, so both streamers
 * have a backlog for it at once. The receiver counts the requests in flight at once from both: never
 * more than 4, and 4 reached (the limit was the bound, not the load). Each streamer must have sent
 * (the receiver tells them apart by their connections' ports), or one streamer alone would pass.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 300_000);

const SCENARIO = '13. fleet: per-destination limit across two streamers';
const LIMIT = 4;
/** Per streamer at most LIMIT / hold requests a second: well under the burst's rate, so both fall behind. */
const HOLD_MS = profile.name === 'short' ? 300 : 150;
let fleet: Fleet | undefined;

const streamerPids = () => fleet?.replicas['audit-streamer'].map((s) => s.pid) ?? [];

beforeAll(async () => {
  fleet = await startFleet(SCENARIO, {
    replicas: { 'release-service': 1, 'audit-recorder': 1, 'audit-streamer': 2 },
    destinations: [{ name: 'limited', filters: [] }],
    receiver: () => startCountingReceiver({ holdMs: HOLD_MS, senders: streamerPids }),
    env: { 'audit-streamer': { DELIVERY_CONCURRENCY_PER_DESTINATION: String(LIMIT) } },
  });
});
afterAll(() => fleet?.stop());

describe(SCENARIO, () => {
  it(`never has more than ${LIMIT} requests in flight to the destination from both streamers together`, async () => {
    const { platform } = fleet as Fleet;
    await waitForGroup(platform, platform.groupIds.streamer, 2);
    const receiver = platform.destinations[0].receiver as CountingReceiver;
    const load = new LoadDriver(platform, profile.ratePerSecond * 2);
    await load.run({ actions: profile.actions, concurrency: profile.concurrency });

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    const sent = streamerPids().map((pid) => receiver.sentBy().get(pid) ?? 0);
    reportRow(SCENARIO, verdict, {
      maxInFlight: receiver.maxInFlight(),
      notes: [
        `limit ${LIMIT} per destination on each of 2 streamers, receiver holding each request ${HOLD_MS} ms`,
        `burst of ${load.sent} actions at ${profile.ratePerSecond * 2}/s`,
        `requests sent by streamer #0 / #1: ${sent.join(' / ')}`,
        `5xx: ${load.failed.length}`,
      ],
    });
    expect(sent.map((n) => n > 0)).toEqual([true, true]);
    expect(receiver.maxInFlight()).toBeLessThanOrEqual(LIMIT);
    expect(receiver.maxInFlight()).toBe(LIMIT);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
