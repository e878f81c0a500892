import { Migration } from '@mikro-orm/migrations';
import { dropDatabase, serviceDatabase, TEST_DATABASE_URL, uniqueSuffix, urlAs } from '@audit/testing';
import { Client } from 'pg';
import { databaseUrl } from './ensure-database';
import { DatabaseSetupError, migrateSchema } from './schema-migration';

/*
 * Replicas boot together: each runs migrateSchema on the same database at the same moment. Against the real
 * PostgreSQL, several concurrent runs must apply each migration exactly once and all succeed, and an owner role
 * without CREATEDB must be able to migrate a database that exists.
 */
jest.setTimeout(60_000);

/** Creates a table and counts its own applications: a second application would add a row (or fail on the table). */
class CreateLedger extends Migration {
  override async up(): Promise<void> {
    this.addSql('create table if not exists ledger (migration text not null, applied_at timestamptz default now())');
    // Slow enough that concurrent runs overlap inside the migration, not one after the other by luck.
    this.addSql("select pg_sleep(0.3); insert into ledger (migration) values ('create_ledger')");
  }
}
class FillLedger extends Migration {
  override async up(): Promise<void> {
    this.addSql("insert into ledger (migration) values ('fill_ledger')");
  }
}
const migrations = [
  { name: 'Migration00000000000001', class: CreateLedger },
  { name: 'Migration00000000000002', class: FillLedger },
];

const databases: string[] = [];
afterAll(async () => {
  await Promise.all(databases.map((name) => dropDatabase(name)));
});

async function rows(database: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const client = new Client({ connectionString: databaseUrl(TEST_DATABASE_URL, database) });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('migrateSchema on a fleet', () => {
  it('applies each migration once when three replicas boot at the same moment on a database that does not exist yet', async () => {
    const database = `it_migrate_race_${uniqueSuffix()}`;
    databases.push(database);
    // The superuser owns the schema here (single-role mode): it may create the missing database, as in development.
    const spec = {
      ownerUrl: TEST_DATABASE_URL,
      runtimeUrl: TEST_DATABASE_URL,
      database,
      migrations,
      privileges: { appendOnly: [] },
    };

    const outcomes = await Promise.allSettled([migrateSchema(spec), migrateSchema(spec), migrateSchema(spec)]);

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const applied = await rows(database, 'select name from mikro_orm_migrations order by name');
    expect(applied.map((r) => r['name'])).toEqual(['Migration00000000000001', 'Migration00000000000002']);
    const ledger = await rows(database, 'select migration from ledger order by applied_at, migration');
    expect(ledger.map((r) => r['migration'])).toEqual(['create_ledger', 'fill_ledger']);
  });

  it('needs no CREATEDB when the database exists, and names the set-up step when it does not', async () => {
    const database = `it_migrate_owner_${uniqueSuffix()}`;
    databases.push(database);
    // What `npm run db:setup` leaves: roles without CREATEDB and the database owned by the owner role.
    const env = await serviceDatabase('release-service', database);
    const owner = await rows('postgres', `select rolcreatedb from pg_roles where rolname = 'release_service_owner'`);
    expect(owner).toEqual([{ rolcreatedb: false }]);

    const spec = {
      ownerUrl: env.DATABASE_MIGRATION_URL,
      runtimeUrl: env.DATABASE_URL,
      database,
      migrations,
      privileges: { appendOnly: ['ledger'] },
    };
    await Promise.all([migrateSchema(spec), migrateSchema(spec)]);
    const ledger = await rows(database, 'select migration from ledger order by applied_at, migration');
    expect(ledger.map((r) => r['migration'])).toEqual(['create_ledger', 'fill_ledger']);

    const missing = `it_migrate_missing_${uniqueSuffix()}`;
    databases.push(missing);
    const refused = migrateSchema({ ...spec, database: missing, ownerUrl: urlAs('release_service_owner') });
    await expect(refused).rejects.toBeInstanceOf(DatabaseSetupError);
    await expect(refused).rejects.toThrow(/may not create it: run `npm run db:setup`/);
  });
});
