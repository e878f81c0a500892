import { waitFor } from '@audit/testing';
import { LoadDriver } from './support/load';
import { Platform, startPlatform } from './support/platform';
import { faultsProfile } from './support/profile';
import { FaultyReceiver } from './support/receiver';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 5: a destination that answers 500, then times out (holds every request open past the
 * streamer's 1 s delivery timeout), then recovers. Everything must reach it in the end, and a
 * healthy destination of the same group must keep receiving meanwhile: a failing receiver holds
 * only its own delivery slots.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 240_000);

const SCENARIO = '5. destination answers 500, then times out, then recovers';
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform(SCENARIO, {
    destinations: [
      { name: 'flaky', filters: [] },
      { name: 'steady', filters: ['release_created'] },
    ],
    env: { 'audit-streamer': { DELIVERY_TIMEOUT_MS: '1000' } },
  });
});
afterAll(() => platform?.stop());

/** Requests since `from` whose event id came again later: the streamer retried after a failure. */
const retriedSince = (receiver: FaultyReceiver, from: number): number => {
  const ids = receiver.requests.slice(from).map((r) => String(r.headers['webhook-id']));
  return ids.length - new Set(ids).size;
};

describe(SCENARIO, () => {
  it('delivers everything to the recovered destination, and keeps serving the healthy one meanwhile', async () => {
    const [flaky, steady] = platform.destinations.map((d) => d.receiver);
    flaky.setMode('fail');
    const load = new LoadDriver(platform, profile.ratePerSecond);
    let faultOver = false;
    const traffic = load.run({
      concurrency: profile.concurrency,
      done: () => faultOver && load.sent >= profile.actions,
    });

    await waitFor(
      'the flaky destination to answer 500s, retried',
      () =>
        flaky.requests.filter((r) => r.answered === 500).length >= Math.max(20, profile.actions / 20) &&
        retriedSince(flaky, 0) > 0,
      { timeoutMs: 90_000, intervalMs: 100 },
    );
    const errors = flaky.requests.length;
    flaky.setMode('hold');
    await waitFor(
      'requests to the flaky destination to time out',
      () => flaky.requests.slice(errors).filter((r) => r.abandoned).length >= profile.destinationTimeouts,
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    const timedOut = flaky.requests.slice(errors).filter((r) => r.abandoned).length;
    // While the flaky destination still hangs, the healthy one has everything created so far.
    const createdSoFar = new Set(
      load.accepted.filter((a) => a.eventType === 'release_created').map((a) => a.correlationId),
    );
    await waitFor(
      'the steady destination to keep up while the flaky one hangs',
      () => {
        const got = new Set([...steady.delivered().values()].map((d) => d.correlationId));
        return [...createdSoFar].every((c) => got.has(c));
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    flaky.setMode('ok');
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    reportRow(SCENARIO, verdict, {
      notes: [
        `flaky: ${errors} requests answered 500, then ${timedOut} timed out, then recovered`,
        `steady kept up (${createdSoFar.size} events) during the outage`,
        `5xx: ${load.failed.length}`,
      ],
    });
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
