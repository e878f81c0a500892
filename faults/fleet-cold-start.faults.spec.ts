import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDatabase } from './support/checks';
import { Fleet, running, SERVICES, startFleet } from './support/fleet';
import { LoadDriver } from './support/load';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 14: three instances of each service started at the same moment on empty databases (the
 * roles and databases exist, as `npm run db:setup` leaves them; no table yet) and a topic that does
 * not exist. Each instance migrates its database at boot (schema-migration.ts: under an advisory lock,
 * so replicas take turns) and rebuilds the runtime role's grants; every release-service creates the
 * topic. The suite lines the instances of each database up at their migrations and releases them at
 * once (support/fleet.ts, lineUpMigrations), so the lock is what keeps them apart, not their boots'
 * jitter: without it, the run fails (a duplicate table, the instance exits). All nine must become ready; each database must list every committed migration exactly once in
 * MikroORM's table, and its runtime role must hold exactly the privileges of docs/architecture.md,
 * "Database roles". Then traffic through the three release-services must be stored and delivered.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 300_000);

const SCENARIO = '14. fleet: three instances of each service cold-started at once';
const REPLICAS = 3;
let fleet: Fleet;
let readySeconds: number;

beforeAll(async () => {
  const started = Date.now();
  fleet = await startFleet(SCENARIO, {
    coldStart: true,
    replicas: { 'release-service': REPLICAS, 'audit-recorder': REPLICAS, 'audit-streamer': REPLICAS },
  });
  readySeconds = (Date.now() - started) / 1000;
});
afterAll(() => fleet?.stop());

/** The committed migrations of an app, by name, read from its list (the suite does not import app code). */
function committedMigrations(app: string): string[] {
  const index = readFileSync(join(__dirname, '..', 'apps', app, 'src', 'migrations', 'index.ts'), 'utf8');
  return [...index.matchAll(/name: '(Migration\d+)'/g)].map((m) => m[1]).sort();
}

/** Tables each runtime role may read and insert into but never change (docs/architecture.md, "Database roles"). */
const APPEND_ONLY: Record<string, string[]> = {
  'release-service': ['event_store'],
  'audit-recorder': ['audit_events'],
  'audit-streamer': [],
};

describe(SCENARIO, () => {
  it('brings every instance up, applies each migration once, then stores and delivers everything', async () => {
    const { platform } = fleet;
    const counts = SERVICES.map((name) => running(fleet, name).length);
    const migrations: Record<string, Array<{ name: string; n: number }>> = {};
    const privileges: Record<string, Record<string, boolean>> = {};
    for (const name of SERVICES) {
      const { env } = fleet.replicas[name][0];
      const role = decodeURIComponent(new URL(env['DATABASE_URL']).username);
      await withDatabase(env['DATABASE_NAME'], async (db) => {
        migrations[name] = (
          await db.query<{ name: string; n: number }>(
            'select name, count(*)::int as n from mikro_orm_migrations group by name order by name',
          )
        ).rows;
        const check = async (table: string, privilege: string) =>
          (
            await db.query<{ ok: boolean }>('select has_table_privilege($1, $2, $3) as ok', [
              role,
              `public.${table}`,
              privilege,
            ])
          ).rows[0].ok;
        privileges[name] = {
          'outbox INSERT': await check('outbox', 'INSERT'),
          'outbox UPDATE': await check('outbox', 'UPDATE'),
        };
        privileges[name]['mikro_orm_migrations SELECT'] = await check('mikro_orm_migrations', 'SELECT');
        for (const table of APPEND_ONLY[name]) {
          privileges[name][`${table} INSERT`] = await check(table, 'INSERT');
          privileges[name][`${table} UPDATE`] = await check(table, 'UPDATE');
          privileges[name][`${table} DELETE`] = await check(table, 'DELETE');
        }
      });
    }

    const load = new LoadDriver(platform, profile.ratePerSecond);
    await load.run({ actions: profile.actions, concurrency: profile.concurrency });
    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    const applied = SERVICES.map((name) => migrations[name].reduce((sum, m) => sum + m.n, 0));
    reportRow(SCENARIO, verdict, {
      notes: [
        `${counts.reduce((a, b) => a + b, 0)} instances ready ${readySeconds.toFixed(1)} s after they were started together`,
        fleet.coldStartGate == null
          ? 'never all lined up at their migrations'
          : `all lined up at their migrations ${(fleet.coldStartGate / 1000).toFixed(1)} s after the start, then released together`,
        `migration rows (release / recorder / streamer): ${applied.join(' / ')} for ${SERVICES.map((n) => committedMigrations(n).length).join(' / ')} committed`,
        `5xx: ${load.failed.length}`,
      ],
    });

    // Otherwise the boots' jitter, not the migration lock, could have kept the migrations apart.
    expect(fleet.coldStartGate).not.toBeNull();
    expect(counts).toEqual([REPLICAS, REPLICAS, REPLICAS]);
    for (const name of SERVICES)
      expect({ name, migrations: migrations[name] }).toEqual({
        name,
        migrations: committedMigrations(name).map((m) => ({ name: m, n: 1 })),
      });
    for (const name of SERVICES)
      expect({ name, privileges: privileges[name] }).toEqual({
        name,
        privileges: {
          'outbox INSERT': true,
          'outbox UPDATE': true,
          'mikro_orm_migrations SELECT': false,
          ...Object.fromEntries(
            APPEND_ONLY[name].flatMap((t) => [
              [`${t} INSERT`, true],
              [`${t} UPDATE`, false],
              [`${t} DELETE`, false],
            ]),
          ),
        },
      });
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
    expect(verdict.dlq).toBe(0);
  });
});
