import { waitFor } from '@audit/testing';
import { LoadDriver } from './support/load';
import { kill, Platform, restart, startPlatform } from './support/platform';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 2: the streamer killed with SIGKILL while deliveries are in flight, then restarted. To
 * be sure requests are in flight at the kill, both receivers stop answering just before it (they
 * hold the requests open); the streamer dies with them unanswered, so none of those counts as
 * delivered, and each must be sent again by the restarted streamer. Traffic keeps flowing meanwhile.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 240_000);

const SCENARIO = '2. streamer SIGKILL with deliveries in flight, restarted';
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform(SCENARIO);
});
afterAll(() => platform?.stop());

describe(SCENARIO, () => {
  it('stores every accepted action exactly once and delivers it to every matching destination', async () => {
    const load = new LoadDriver(platform, profile.ratePerSecond);
    let faultOver = false;
    const traffic = load.run({
      concurrency: profile.concurrency,
      done: () => faultOver && load.sent >= profile.actions,
    });
    const [siem, createdOnly] = platform.destinations.map((d) => d.receiver);

    await waitFor('part of the traffic to be delivered', () => siem.delivered().size >= profile.actions / 6, {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    siem.setMode('hold');
    createdOnly.setMode('hold');
    await waitFor('deliveries in flight to both destinations', () => siem.held() >= 3 && createdOnly.held() >= 2, {
      timeoutMs: 60_000,
      intervalMs: 20,
    });
    const inFlight = siem.held() + createdOnly.held();
    await kill(platform, 'audit-streamer');
    // The held requests die with the streamer's sockets: leaving `hold` answers none of them.
    siem.setMode('ok');
    createdOnly.setMode('ok');
    const killedAt = load.accepted.length;
    await waitFor(
      'traffic to go on without the streamer',
      () => load.accepted.length >= killedAt + profile.actions / 5,
      { timeoutMs: 120_000, intervalMs: 50 },
    );
    await restart(platform, 'audit-streamer');
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    reportRow(SCENARIO, verdict, {
      notes: [`killed with ${inFlight} requests in flight, at ${killedAt} accepted`, `5xx: ${load.failed.length}`],
    });
    expect(inFlight).toBeGreaterThan(0);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
