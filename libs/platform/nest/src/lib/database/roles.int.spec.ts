import { dropDatabase, TEST_DATABASE_URL, uniqueSuffix, urlAs } from '@audit/testing';
import { Client } from 'pg';
import { databaseUrl } from './ensure-database';
import { grantStatements, provisionServiceDatabase } from './roles';

/*
 * What `npm run db:setup` does, against the real PostgreSQL: roles and database from nothing, and a
 * database that an earlier version migrated as the superuser handed over to the owner role.
 */
jest.setTimeout(60_000);

const database = `it_roles_${uniqueSuffix()}`;
const spec = {
  adminUrl: TEST_DATABASE_URL,
  database,
  ownerUrl: urlAs('it_roles_owner'),
  runtimeUrl: urlAs('it_roles'),
};
const clients: Client[] = [];

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: databaseUrl(url, database) });
  await client.connect();
  clients.push(client);
  return client;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await dropDatabase(database);
});

describe('provisionServiceDatabase', () => {
  it('hands a database migrated by the superuser over to the owner role, and can run again', async () => {
    const admin = new Client({ connectionString: databaseUrl(TEST_DATABASE_URL, 'postgres') });
    await admin.connect();
    clients.push(admin);
    await admin.query(`create database "${database}"`);
    const legacy = await connect(TEST_DATABASE_URL);
    await legacy.query(`create table events (id bigserial primary key, body text); create table log (id int); create sequence ids;
      create function noop() returns trigger language plpgsql as $$ begin return new; end $$;`);

    await provisionServiceDatabase(spec);
    await provisionServiceDatabase(spec);

    const owners =
      await legacy.query(`select c.relname as name, pg_get_userbyid(c.relowner) as owner from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' order by 1`);
    expect(new Set(owners.rows.map((r) => r.owner))).toEqual(new Set(['it_roles_owner']));
    expect(owners.rows.map((r) => r.name)).toEqual(expect.arrayContaining(['events', 'events_id_seq', 'ids', 'log']));
    const fn = await legacy.query(`select pg_get_userbyid(proowner) as owner from pg_proc where proname = 'noop'`);
    expect(fn.rows[0].owner).toBe('it_roles_owner');
    const roles = await legacy.query(
      `select rolname, rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname in ('it_roles', 'it_roles_owner') order by 1`,
    );
    expect(roles.rows).toEqual([
      { rolname: 'it_roles', rolsuper: false, rolcreatedb: false, rolcreaterole: false },
      { rolname: 'it_roles_owner', rolsuper: false, rolcreatedb: false, rolcreaterole: false },
    ]);
  });

  it('grants the runtime role DML but not on the append-only tables, and nothing it did not get again', async () => {
    const owner = await connect(spec.ownerUrl);
    await owner.query('create table if not exists mikro_orm_migrations (id serial primary key, name text)');
    await owner.query(`grant truncate on log to it_roles`);
    for (const sql of grantStatements('it_roles', { appendOnly: ['events'] })) await owner.query(sql);
    const runtime = await connect(spec.runtimeUrl);
    await runtime.query(`insert into events (body) values ('a')`);
    await runtime.query('insert into log values (1); update log set id = 2; delete from log');
    await expect(runtime.query(`update events set body = 'b'`)).rejects.toMatchObject({ code: '42501' });
    await expect(runtime.query('delete from events')).rejects.toMatchObject({ code: '42501' });
    await expect(runtime.query('truncate log')).rejects.toMatchObject({ code: '42501' });
    await expect(runtime.query('select * from mikro_orm_migrations')).rejects.toMatchObject({ code: '42501' });
    expect((await runtime.query(`select nextval('ids') as n`)).rows[0].n).toBe('1');
  });

  it('keeps everyone else out of the database', async () => {
    // Another service's role, say: a login role with no grant on this database.
    await provisionServiceDatabase({
      ...spec,
      database: `${database}_x`,
      ownerUrl: urlAs('it_roles_other_owner'),
      runtimeUrl: urlAs('it_roles_other'),
    });
    await dropDatabase(`${database}_x`);
    const stranger = new Client({ connectionString: databaseUrl(urlAs('it_roles_other'), database) });
    await expect(stranger.connect()).rejects.toMatchObject({ code: '42501' });
    await stranger.end().catch(() => undefined);
  });
});
