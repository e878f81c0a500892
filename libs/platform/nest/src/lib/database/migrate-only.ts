import type { MigrationObject } from '@mikro-orm/core';
import { z } from 'zod';
import { baseConfigShape, ConfigError } from '../config/config';
import { fatal } from '../http/bootstrap';
import type { RuntimePrivileges } from './roles';
import { migrateSchema } from './schema-migration';

/**
 * The variables a schema migration reads, with the service's own names and defaults: a migration Job is
 * given what the service's Deployment is given. `npm run db:setup` reads them too, with a service prefix.
 */
export const migrationConfigShape = (database: string) => {
  const { DATABASE_URL, DATABASE_MIGRATION_URL, DATABASE_NAME } = baseConfigShape({ port: 1, database });
  return { DATABASE_URL, DATABASE_MIGRATION_URL, DATABASE_NAME };
};

/** A service's schema as its AppModule hands it to DatabaseModule. */
export interface ServiceSchema {
  /** The service's default database name (DATABASE_NAME overrides it). */
  database: string;
  migrations: MigrationObject[];
  privileges: RuntimePrivileges;
}

/**
 * What the service does at boot before anything else, and nothing more: the committed migrations as the
 * owner role, then the runtime role's grants, under the same advisory lock as booting replicas.
 */
export async function migrateServiceSchema(schema: ServiceSchema, source: NodeJS.ProcessEnv = process.env) {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const parsed = z.object(migrationConfigShape(schema.database)).safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })));
  }
  await migrateSchema({
    ownerUrl: parsed.data.DATABASE_MIGRATION_URL,
    runtimeUrl: parsed.data.DATABASE_URL,
    database: parsed.data.DATABASE_NAME,
    migrations: schema.migrations,
    privileges: schema.privileges,
  });
}

/**
 * The migrate-only entry point of a service (`node dist/apps/<service>/src/migrate.js`, a Kubernetes Job):
 * exits 0 once the schema is up to date, 78 on bad configuration, 1 when the migration fails. It ends by
 * itself: every connection it opened is closed, so a hanging Job means a hanging database, not a stray handle.
 */
export async function runMigrateOnly(serviceName: string, schema: ServiceSchema): Promise<void> {
  try {
    await migrateServiceSchema(schema);
  } catch (err) {
    fatal(`${serviceName}/migrate`, err);
    process.exitCode = err instanceof ConfigError ? 78 : 1;
  }
}
