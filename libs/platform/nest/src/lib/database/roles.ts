import { escapeIdentifier, escapeLiteral } from 'pg';
import { SqlSession } from '@audit/sql';
import { databaseUrl } from './ensure-database';

/*
 * Who may do what in a service's database (docs/architecture.md, "Database roles"):
 *
 *   superuser (DATABASE_ADMIN_URL)  creates the roles and the databases, nothing else (`npm run db:setup`)
 *   <service>_owner                 owns the database and its schema; applies migrations and grants at boot
 *                                   (DATABASE_MIGRATION_URL); not a superuser, so it cannot set
 *                                   session_replication_role to slip past a trigger
 *   <service>                       what the running service connects as (DATABASE_URL): SELECT, INSERT,
 *                                   UPDATE and DELETE on its tables, except the append-only ones
 *                                   (audit events, the event store), where it may only read and insert;
 *                                   no DDL, no TRUNCATE, no access to the migrations table
 */

/** The credentials of one role, as a postgres:// URL gives them. */
export interface RoleCredentials {
  user: string;
  password: string | null;
}

export const credentialsOf = (url: string): RoleCredentials => {
  const parsed = new URL(url);
  return {
    user: decodeURIComponent(parsed.username),
    password: parsed.password ? decodeURIComponent(parsed.password) : null,
  };
};

export interface ServiceDatabase {
  /** Server URL with the superuser's (or a CREATEROLE + CREATEDB role's) credentials. */
  adminUrl: string;
  database: string;
  /** DATABASE_MIGRATION_URL: its user owns the database. */
  ownerUrl: string;
  /** DATABASE_URL: its user is what the service runs as. */
  runtimeUrl: string;
}

/** Creates (or updates the password of) a login role with no special attributes. */
async function ensureRole(admin: SqlSession, { user, password }: RoleCredentials): Promise<void> {
  const exists = await admin.query('select 1 from pg_roles where rolname = $1', [user]);
  const secret = password === null ? '' : ` PASSWORD ${escapeLiteral(password)}`;
  const verb = exists.length > 0 ? 'ALTER' : 'CREATE';
  await admin
    .query(
      `${verb} ROLE ${escapeIdentifier(user)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS${secret}`,
    )
    .catch((err: { code?: string }) => {
      // Another process created it between the check and the CREATE.
      if (verb === 'CREATE' && (err.code === '42710' || err.code === '23505')) return;
      throw err;
    });
}

/**
 * The superuser's whole part: the two roles and the database owned by the owner role, which only
 * they may connect to. Idempotent; safe when several processes run it at once.
 */
export async function provisionServiceDatabase(spec: ServiceDatabase): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(spec.database)) throw new Error(`invalid database name: ${spec.database}`);
  const owner = credentialsOf(spec.ownerUrl);
  const runtime = credentialsOf(spec.runtimeUrl);
  const admin = new SqlSession({
    name: 'db-setup',
    connectionString: databaseUrl(spec.adminUrl, 'postgres'),
    statementTimeoutMs: 0,
  });
  await admin.open();
  try {
    await ensureRole(admin, owner);
    if (runtime.user !== owner.user) await ensureRole(admin, runtime);
    const db = escapeIdentifier(spec.database);
    const exists = await admin.query('select 1 from pg_database where datname = $1', [spec.database]);
    if (exists.length === 0) {
      await admin
        .query(`CREATE DATABASE ${db} OWNER ${escapeIdentifier(owner.user)}`)
        .catch((err: { code?: string }) => {
          if (err.code !== '42P04' && err.code !== '23505') throw err;
        });
    } else {
      await admin.query(`ALTER DATABASE ${db} OWNER TO ${escapeIdentifier(owner.user)}`);
    }
    await admin.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${escapeIdentifier(runtime.user)}`);
  } finally {
    await admin.close();
  }
  const inDb = new SqlSession({
    name: 'db-setup',
    connectionString: databaseUrl(spec.adminUrl, spec.database),
    statementTimeoutMs: 0,
  });
  await inDb.open();
  try {
    // PostgreSQL 15 gives the public schema to the database owner; make sure of it for older clusters.
    await inDb.query(`ALTER SCHEMA public OWNER TO ${escapeIdentifier(owner.user)}`);
    await inDb.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await handOver(inDb, owner.user);
  } finally {
    await inDb.close();
  }
}

/**
 * A database set up before the roles existed has its tables owned by whoever migrated it then (the
 * superuser): every table, sequence, view and function of the public schema goes to the owner role,
 * so that its migrations can alter them. Sequences owned by a table follow the table.
 */
async function handOver(inDb: SqlSession, owner: string): Promise<void> {
  const rows = await inDb.query<{ statement: string }>(
    `select format('ALTER %s %s OWNER TO %I', kind, name, $1::text) as statement from (
       select case c.relkind when 'r' then 'TABLE' when 'p' then 'TABLE' when 'v' then 'VIEW' when 'm' then 'MATERIALIZED VIEW' else 'SEQUENCE' end as kind,
              format('%I.%I', n.nspname, c.relname) as name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S') and pg_get_userbyid(c.relowner) <> $1::text
          and not (c.relkind = 'S' and exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i')))
       union all
       select 'FUNCTION', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and pg_get_userbyid(p.proowner) <> $1::text
     ) objects`,
    [owner],
  );
  for (const { statement } of rows) await inDb.query(statement);
}

/** What a service's running role may do, beyond reading and writing its own tables. */
export interface RuntimePrivileges {
  /** Tables the service only ever appends to: SELECT and INSERT, no UPDATE or DELETE. */
  appendOnly: readonly string[];
  /** Functions (`name(argument types)`) the service may execute; the owner revokes them from PUBLIC. */
  executable?: readonly string[];
}

/**
 * The runtime role's privileges, rebuilt from scratch on every boot by the schema owner (inside the
 * migration lock): everything it had is revoked, then DML on every table and use of every sequence
 * is granted, minus UPDATE and DELETE on the append-only tables and anything on the migrations table.
 * Rebuilt rather than added to, so a privilege a table no longer needs does not linger.
 */
export function grantStatements(runtimeUser: string, privileges: RuntimePrivileges): string[] {
  const role = escapeIdentifier(runtimeUser);
  return [
    `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`,
    `REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${role}`,
    `GRANT USAGE ON SCHEMA public TO ${role}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`,
    `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
    ...privileges.appendOnly.map((table) => `REVOKE UPDATE, DELETE ON ${escapeIdentifier(table)} FROM ${role}`),
    // A partitioned append-only table: its partitions are tables of their own, which "ALL TABLES" above
    // granted DELETE on; the service reaches them through the parent only, so it gets nothing on them.
    ...privileges.appendOnly.map(
      (table) =>
        `DO $$ DECLARE p regclass; BEGIN FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = to_regclass(${escapeLiteral(table)}) LOOP EXECUTE format('REVOKE ALL ON %s FROM %I', p, ${escapeLiteral(runtimeUser)}); END LOOP; END $$`,
    ),
    ...(privileges.executable ?? []).map((fn) => `GRANT EXECUTE ON FUNCTION ${fn} TO ${role}`),
    `REVOKE ALL ON mikro_orm_migrations FROM ${role}`,
    `REVOKE ALL ON SEQUENCE mikro_orm_migrations_id_seq FROM ${role}`,
  ];
}
