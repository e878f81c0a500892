import { withDatabase } from './support/checks';
import { Action, LoadDriver } from './support/load';
import { Platform, startPlatform } from './support/platform';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 7: concurrent updates of the same release from many clients. Each round creates a
 * release, then every client renames it three times in a row, all clients at once, each rename
 * to a name of its own. Every 200
 * must correspond to exactly one stored audit event (its correlation id, its new name), every 409
 * must have stored nothing anywhere, and the stored renames of a release must form one unbroken
 * chain (each one's "from" is the previous one's "to"): no update was lost or applied twice.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 240_000);

const SCENARIO = '7. concurrent updates of the same release';
const ATTEMPTS_PER_CLIENT = 3;
let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform(SCENARIO);
});
afterAll(() => platform?.stop());

interface NameChange {
  correlation_id: string;
  target_id: number;
  from: string;
  to: string;
  version: number;
}

/** The stored renames of the race, in stream order (the release-service's stream versions). */
async function storedRenames(platform: Platform, updates: Action[]): Promise<NameChange[]> {
  const ids = updates.map((u) => u.correlationId);
  const versions = await withDatabase(platform.databases.release, (db) =>
    db.query<{ correlation_id: string; version: number }>(
      "select payload->>'correlation_id' as correlation_id, stream_version as version from event_store where payload->>'correlation_id' = any($1::text[])",
      [ids],
    ),
  );
  const versionOf = new Map(versions.rows.map((r) => [r.correlation_id, r.version]));
  const { rows } = await withDatabase(platform.databases.recorder, (db) =>
    db.query<{ correlation_id: string; target_id: number; change: { from: string; to: string } }>(
      `select payload->'details'->>'correlation_id' as correlation_id, target_id::int as target_id, c as change
         from audit_events, json_array_elements(payload->'details'->'changes') c
        where payload->'details'->>'correlation_id' = any($1::text[]) and c->>'field' = 'name'`,
      [ids],
    ),
  );
  return rows
    .map((r) => ({
      correlation_id: r.correlation_id,
      target_id: r.target_id,
      from: r.change.from,
      to: r.change.to,
      version: versionOf.get(r.correlation_id) ?? -1,
    }))
    .sort((a, b) => a.target_id - b.target_id || a.version - b.version);
}

describe(SCENARIO, () => {
  it('stores exactly one audit event per 200 and nothing per 409, in one unbroken chain per release', async () => {
    const load = new LoadDriver(platform);
    const releases: Action[] = [];
    for (let round = 0; round < profile.raceRounds; round += 1) {
      const created = await load.send(load.create(round, 1_000 + round));
      expect(created.status).toBe(201);
      releases.push(created);
      // Every client renames it a few times in a row, all clients at once: many races per round.
      await Promise.all(
        Array.from({ length: profile.racingClients }, async (_, c) => {
          for (let k = 0; k < ATTEMPTS_PER_CLIENT; k += 1)
            await load.send(load.update(created, `Race ${round} by client ${c} try ${k}`));
        }),
      );
    }
    const updates = load.accepted.filter((a) => a.kind === 'update');
    const conflicts = load.refused.filter((a) => a.status === 409);

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    const renames = await storedRenames(platform, updates);
    const refusedIds = load.refused.map((a) => a.correlationId);
    const appendedFor409 = await withDatabase(
      platform.databases.release,
      async (db) =>
        (
          await db.query(
            "select payload->>'correlation_id' as c from event_store where payload->>'correlation_id' = any($1::text[])",
            [refusedIds],
          )
        ).rows,
    );
    const storedFor409 = await withDatabase(
      platform.databases.recorder,
      async (db) =>
        (
          await db.query("select id from audit_events where payload->'details'->>'correlation_id' = any($1::text[])", [
            refusedIds,
          ])
        ).rows,
    );
    const deliveredFor409 = platform.destinations.flatMap((d) =>
      [...d.receiver.delivered().values()].filter((v) => refusedIds.includes(v.correlationId)),
    );
    reportRow(SCENARIO, verdict, {
      notes: [
        `${profile.raceRounds} rounds of ${profile.racingClients} clients × ${ATTEMPTS_PER_CLIENT}: ${updates.length} × 200, ${conflicts.length} × 409, ${load.refused.length - conflicts.length} other 4xx`,
        `stored for the 409s: ${storedFor409.length}`,
        `5xx: ${load.failed.length}`,
      ],
    });

    expect(load.failed).toEqual([]);
    expect(load.refused.filter((a) => a.status !== 409)).toEqual([]);
    expect(updates.length + conflicts.length).toBe(profile.raceRounds * profile.racingClients * ATTEMPTS_PER_CLIENT);
    expect(updates.length).toBeGreaterThanOrEqual(profile.raceRounds);
    expectNothingLost(verdict);
    // Every 200: exactly one stored rename, to the name it sent.
    expect(renames.map((r) => `${r.correlation_id} ${r.to}`).sort()).toEqual(
      updates.map((u) => `${u.correlationId} ${u.name}`).sort(),
    );
    // 409s: nothing appended, stored or delivered.
    expect({ appendedFor409, storedFor409, deliveredFor409 }).toEqual({
      appendedFor409: [],
      storedFor409: [],
      deliveredFor409: [],
    });
    // One unbroken chain per release: from its created name through each stored rename, in stream order.
    for (const release of releases) {
      const chain = renames.filter((r) => r.target_id === release.releaseId);
      const expectedFroms = [release.name, ...chain.slice(0, -1).map((r) => r.to)];
      expect({ release: release.tag, froms: chain.map((r) => r.from) }).toEqual({
        release: release.tag,
        froms: expectedFroms,
      });
    }
  });
});
