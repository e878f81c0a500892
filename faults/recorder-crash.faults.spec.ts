import { waitFor } from '@audit/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { storedSoFar, waitForOpenTransaction } from './support/checks';
import { LoadDriver } from './support/load';
import { kill, Platform, restart, startPlatform } from './support/platform';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 1: the recorder killed with SIGKILL in the middle of a batch, then restarted (twice in
 * the full profile): each kill waits for the recorder to have a batch transaction open
 * (pg_stat_activity), the first under live traffic, the second right after a restart, while it
 * works through the backlog the first crash left. Chunks are small (20 messages) so a batch spans many transactions and offset commits.
 * Inserts are idempotent and offsets follow the commit, so a chunk stored but not yet committed
 * is consumed again without a second row; the JSON log, at least once by contract, shows those.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 240_000);

const SCENARIO = '1. recorder SIGKILL mid-batch, restarted';
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform(SCENARIO, { env: { 'audit-recorder': { CONSUMER_CHUNK_SIZE: '20' } } });
});
afterAll(() => platform?.stop());

/** Lines of the recorder's JSON log written more than once: chunks redelivered after a crash. */
function rewrittenLogLines(): number {
  const file = join(__dirname, '..', platform.services['audit-recorder'].env['AUDIT_LOG_FILE']);
  const ids = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);
  return ids.length - new Set(ids).size;
}

describe(SCENARIO, () => {
  it('stores every accepted action exactly once and delivers it to every matching destination', async () => {
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
    const kills: string[] = [];
    for (let k = 0; k < profile.recorderKills; k += 1) {
      await waitForOpenTransaction(platform.databases.recorder, 60_000);
      await kill(platform, 'audit-recorder');
      kills.push(`${await storedSoFar(platform)} stored of ${load.accepted.length} accepted`);
      // A backlog builds up while it is down; the next kill lands while it works through it.
      const backlogFrom = load.accepted.length;
      await waitFor(
        'a backlog to build up while the recorder is down',
        () => load.accepted.length >= backlogFrom + profile.actions / 5,
        { timeoutMs: 120_000, intervalMs: 50 },
      );
      await restart(platform, 'audit-recorder');
    }
    faultOver = true;
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    reportRow(SCENARIO, verdict, {
      notes: [
        `killed with a batch transaction open at ${kills.join(', then at ')}`,
        `JSON log lines rewritten after the crashes: ${rewrittenLogLines()}`,
        `5xx: ${load.failed.length}`,
      ],
    });
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
