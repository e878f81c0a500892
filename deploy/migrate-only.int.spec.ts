import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dropDatabase, serviceDatabase, TEST_DATABASE_URL, uniqueSuffix, urlAs } from '@audit/testing';
import { Client } from 'pg';

/*
 * The migrate-only entry points (apps/<service>/src/migrate.ts, `node dist/apps/<service>/src/migrate.js` in the
 * Kubernetes migration Job, `npm run db:migrate`), run as processes against the real PostgreSQL on a database
 * that `db:setup` prepared: each applies its service's committed migrations and grants, exits by itself, and a
 * second run changes nothing.
 */
jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..');
const SERVICES = [
  { service: 'release-service', role: 'release_service', appendOnly: 'event_store', readWrite: 'outbox' },
  { service: 'audit-recorder', role: 'audit_recorder', appendOnly: 'audit_events', readWrite: 'namespaces' },
  { service: 'audit-streamer', role: 'audit_streamer', appendOnly: null, readWrite: 'deliveries' },
] as const;

interface Exit {
  code: number | null;
  output: string;
}

/** Runs an entry point as the Job does, from sources; a process that does not end by itself fails the test. */
function runMigrate(service: string, env: Record<string, string>, deadlineMs = 60_000): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join('apps', service, 'src', 'migrate.ts')], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', ...env },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${service} migrate did not exit within ${deadlineMs} ms:\n${output}`));
    }, deadlineMs);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

const committedMigrations = (service: string): string[] =>
  readdirSync(join(ROOT, 'apps', service, 'src', 'migrations'))
    .filter((file) => /^Migration\d+\.ts$/.test(file))
    .map((file) => file.replace(/\.ts$/, ''))
    .sort();

async function query<T extends Record<string, unknown>>(database: string, sql: string, params: unknown[] = []) {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${database}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const databases: string[] = [];
afterAll(async () => {
  await Promise.all(databases.map((name) => dropDatabase(name)));
});

describe.each(SERVICES)('$service migrate-only entry point', ({ service, role, appendOnly, readWrite }) => {
  it('applies the committed migrations and the runtime grants once, exits 0, and changes nothing when run again', async () => {
    const database = `it_migrate_only_${role}_${uniqueSuffix()}`;
    databases.push(database);
    const env = await serviceDatabase(service, database);

    const first = await runMigrate(service, env);
    expect({ code: first.code, output: first.output }).toEqual({ code: 0, output: expect.any(String) });
    const expected = committedMigrations(service);
    expect(first.output).toContain(`migrations applied: ${expected.length} new`);
    const applied = await query<{ name: string; executed_at: Date }>(
      database,
      'select name, executed_at from mikro_orm_migrations order by name',
    );
    expect(applied.map((row) => row.name)).toEqual(expected);

    // The runtime role got its privileges, minus the append-only ones and the migrations table.
    const privilege = async (table: string, kind: string) =>
      (
        await query<{ granted: boolean }>(database, 'select has_table_privilege($1, $2, $3) as granted', [
          role,
          table,
          kind,
        ])
      )[0].granted;
    expect(await privilege(readWrite, 'UPDATE')).toBe(true);
    expect(await privilege('mikro_orm_migrations', 'SELECT')).toBe(false);
    if (appendOnly) {
      expect(await privilege(appendOnly, 'INSERT')).toBe(true);
      expect(await privilege(appendOnly, 'UPDATE')).toBe(false);
    }

    const second = await runMigrate(service, env);
    expect({ code: second.code, output: second.output }).toEqual({ code: 0, output: expect.any(String) });
    expect(second.output).toContain('migrations applied: 0 new');
    const again = await query<{ name: string; executed_at: Date }>(
      database,
      'select name, executed_at from mikro_orm_migrations order by name',
    );
    expect(again).toEqual(applied);
  });
});

describe('a migrate-only run', () => {
  it('exits 78 naming the variable when the configuration is wrong, before touching a database', async () => {
    const result = await runMigrate('release-service', {
      DATABASE_URL: urlAs('release_service'),
      DATABASE_MIGRATION_URL: 'mysql://release_service_owner@127.0.0.1/x',
    });
    expect(result.code).toBe(78);
    expect(result.output).toContain('DATABASE_MIGRATION_URL');
    expect(result.output).toContain('"level":"fatal"');
  });

  it('exits 1 naming the set-up step when db:setup has not run', async () => {
    const database = `it_migrate_only_missing_${uniqueSuffix()}`;
    const result = await runMigrate('audit-streamer', {
      DATABASE_URL: urlAs('audit_streamer'),
      DATABASE_MIGRATION_URL: urlAs('audit_streamer_owner'),
      DATABASE_NAME: database,
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('npm run db:setup');
  });
});
