import { waitFor } from '@audit/testing';
import { storedSoFar, terminateBackends, waitForOpenTransaction } from './support/checks';
import { LoadDriver } from './support/load';
import { Platform, startPlatform } from './support/platform';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 4: the recorder's PostgreSQL connections cut during consumption: every backend of its
 * database is terminated (pg_terminate_backend), each time while a batch transaction is open, a few
 * times under live traffic. The recorder must neither lose nor duplicate a batch, must not get
 * stuck, and must not die: the same process is still there and ready at the end.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 240_000);

const SCENARIO = '4. recorder PostgreSQL connections cut during consumption';
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform(SCENARIO, { env: { 'audit-recorder': { CONSUMER_CHUNK_SIZE: '20' } } });
});
afterAll(() => platform?.stop());

describe(SCENARIO, () => {
  it('survives its connections being terminated, and stores and delivers every accepted action', async () => {
    const load = new LoadDriver(platform, profile.ratePerSecond);
    let faultOver = false;
    const traffic = load.run({
      concurrency: profile.concurrency,
      done: () => faultOver && load.sent >= profile.actions,
    });
    const recorder = platform.services['audit-recorder'];

    const cuts: number[] = [];
    for (let k = 0; k < profile.connectionCuts; k += 1) {
      const progress = await storedSoFar(platform);
      await waitFor(
        'the recorder to make progress since the last cut',
        async () => (await storedSoFar(platform)) >= progress + profile.actions / (2 * profile.connectionCuts),
        { timeoutMs: 90_000, intervalMs: 100 },
      );
      await waitForOpenTransaction(platform.databases.recorder, 60_000);
      cuts.push(await terminateBackends(platform.databases.recorder));
    }
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    const ready = await fetch(`${recorder.url}/ready`).then(
      (r) => r.status,
      () => 0,
    );
    reportRow(SCENARIO, verdict, {
      notes: [
        `${cuts.length} cuts, backends terminated: ${cuts.join(', ')}`,
        `recorder ${recorder.running() ? 'still running' : 'EXITED'}, /ready ${ready}`,
        `5xx: ${load.failed.length}`,
      ],
    });
    expect(cuts.every((n) => n > 0)).toBe(true);
    expect(recorder.running()).toBe(true);
    expect(ready).toBe(200);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
