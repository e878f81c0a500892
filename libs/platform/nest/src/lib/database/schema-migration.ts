import { Logger } from '@nestjs/common';
import { MikroORM, MigrationObject } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { SqlSession } from '@audit/sql';
import { databaseUrl, ensureDatabase } from './ensure-database';
import { credentialsOf, grantStatements, RuntimePrivileges } from './roles';

/** Arbitrary but fixed, per database: the session lock under which one process at a time migrates and grants. */
export const MIGRATION_LOCK_KEY = 7_301_002;

export interface SchemaMigration {
  /** DATABASE_MIGRATION_URL: the schema owner. */
  ownerUrl: string;
  /** DATABASE_URL: the role the service runs as, which gets its privileges afterwards. */
  runtimeUrl: string;
  database: string;
  migrations: MigrationObject[];
  privileges: RuntimePrivileges;
}

const logger = new Logger('SchemaMigration');

/** Raised when the database is missing or the owner role cannot reach it: a set-up problem, named as such. */
export class DatabaseSetupError extends Error {
  override readonly name = 'DatabaseSetupError';
}

/**
 * The owner's session on the service's database. A missing database is created only when the owner
 * role may create databases (a superuser in single-role mode); otherwise it is a set-up error.
 */
async function connectOwner(url: string, database: string, createIfMissing = true): Promise<SqlSession> {
  // DDL and the migration lock run for minutes at most on a large table: no statement timeout.
  const client = new SqlSession({
    name: 'schema-migration',
    connectionString: databaseUrl(url, database),
    statementTimeoutMs: 0,
  });
  try {
    await client.open();
    return client;
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    const user = credentialsOf(url).user;
    const setUp = `run \`npm run db:setup\` (or, as a superuser, CREATE DATABASE ${database} OWNER ${user})`;
    if (code === '3D000' && createIfMissing) {
      await ensureDatabase(url, database).catch((createErr: { code?: string }) => {
        throw createErr.code === '42501'
          ? new DatabaseSetupError(
              `database "${database}" does not exist and role "${user}" may not create it: ${setUp}`,
            )
          : createErr;
      });
      return connectOwner(url, database, false);
    }
    if (code === '28000' || code === '28P01' || code === '42501')
      throw new DatabaseSetupError(
        `DATABASE_MIGRATION_URL: role "${user}" cannot connect to database "${database}" (${message}): ${setUp}`,
      );
    throw err;
  }
}

/**
 * Applies the committed migrations as the schema owner, then rebuilds the runtime role's privileges,
 * all under a session-level advisory lock: replicas that start together take turns instead of racing
 * (the loser found the migrations table half-written and exited). The owner's connection is closed
 * before the service serves anything; the service itself never holds DDL rights.
 */
export async function migrateSchema(spec: SchemaMigration): Promise<void> {
  const lock = await connectOwner(spec.ownerUrl, spec.database);
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await runMigrations(spec);
    const owner = credentialsOf(spec.ownerUrl).user;
    const runtime = credentialsOf(spec.runtimeUrl).user;
    if (runtime !== owner) {
      await lock.query('begin');
      for (const sql of grantStatements(runtime, spec.privileges)) await lock.query(sql);
      await lock.query('commit');
    }
    logger.log(
      `migrations applied: ${applied} new, schema up to date; runtime role ${runtime}${runtime === owner ? ' owns the schema (single-role mode)' : ' granted its privileges'}`,
    );
    const [role] = await lock.query<{ rolsuper: boolean }>('select rolsuper from pg_roles where rolname = $1', [
      runtime,
    ]);
    if (role?.rolsuper) {
      logger.warn(
        `DATABASE_URL connects as ${runtime}, a SUPERUSER: it can disable the append-only triggers and edit audit records. Run as the service's own role (npm run db:setup creates it).`,
      );
    }
  } finally {
    await lock.close();
  }
}

async function runMigrations(spec: SchemaMigration): Promise<number> {
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver,
    clientUrl: databaseUrl(spec.ownerUrl, spec.database),
    entities: [],
    discovery: { warnWhenNoEntities: false },
    ensureDatabase: false,
    extensions: [Migrator],
    migrations: { migrationsList: spec.migrations, transactional: true, allOrNothing: true, snapshot: false },
    pool: { min: 0, max: 1 },
    forceUtcTimezone: true,
    debug: false,
    logger: (message: string) => logger.debug(message.replace(/\x1b\[[0-9;]*m/g, '')),
  });
  try {
    return (await orm.getMigrator().up()).length;
  } finally {
    await orm.close(true);
  }
}
