/**
 * `npm run db:setup`: the superuser's whole part in running the platform. For each service it creates
 * two login roles and the service's database:
 *   <role>_owner  owns the database; the service migrates as it (DATABASE_MIGRATION_URL)
 *   <role>        what the service runs as (DATABASE_URL): read and write its tables, append-only where
 *                 the table is an audit record, no DDL
 * Idempotent: an existing role gets the password of its URL again, an existing database its owner.
 *
 * DATABASE_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres) is the superuser. Each
 * service's URLs and database name default to the service's own defaults; set them with the service's
 * prefix (RELEASE_SERVICE_, AUDIT_RECORDER_, AUDIT_STREAMER_) + DATABASE_URL, DATABASE_MIGRATION_URL,
 * DATABASE_NAME, e.g. AUDIT_RECORDER_DATABASE_URL=postgres://audit_recorder:secret@db:5432/postgres.
 */
import { ConfigError, credentialsOf, migrationConfigShape, provisionServiceDatabase } from '@audit/platform';
import { z } from 'zod';

const SERVICES = [
  { prefix: 'RELEASE_SERVICE', database: 'release_service' },
  { prefix: 'AUDIT_RECORDER', database: 'audit_recorder' },
  { prefix: 'AUDIT_STREAMER', database: 'audit_streamer' },
] as const;

const adminUrl = process.env['DATABASE_ADMIN_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

function settingsOf(prefix: string, database: string) {
  const schema = z.object(migrationConfigShape(database));
  const given = (name: string) => process.env[`${prefix}_${name}`] || undefined;
  const parsed = schema.safeParse({
    DATABASE_URL: given('DATABASE_URL'),
    DATABASE_MIGRATION_URL: given('DATABASE_MIGRATION_URL'),
    DATABASE_NAME: given('DATABASE_NAME'),
  });
  if (!parsed.success)
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: `${prefix}_${String(i.path[0])}`, message: i.message })),
    );
  return parsed.data;
}

async function main(): Promise<void> {
  for (const { prefix, database } of SERVICES) {
    const settings = settingsOf(prefix, database);
    await provisionServiceDatabase({
      adminUrl,
      database: settings.DATABASE_NAME,
      ownerUrl: settings.DATABASE_MIGRATION_URL,
      runtimeUrl: settings.DATABASE_URL,
    });
    process.stdout.write(
      `[db:setup] ${settings.DATABASE_NAME}: owned by ${credentialsOf(settings.DATABASE_MIGRATION_URL).user}, used by ${credentialsOf(settings.DATABASE_URL).user}\n`,
    );
  }
}

main().catch((err: Error) => {
  process.stderr.write(`[db:setup] ${err.message}\n`);
  process.exit(1);
});
