import { provisionServiceDatabase } from '@audit/platform';
import { TEST_DATABASE_URL } from './unique';

/** The database roles of each service (their defaults in baseConfigShape): `<role>` runs it, `<role>_owner` migrates. */
export type ServiceRole = 'release_service' | 'audit_recorder' | 'audit_streamer';

const SERVICE_ROLES: Record<string, ServiceRole> = {
  'release-service': 'release_service',
  'audit-recorder': 'audit_recorder',
  'audit-streamer': 'audit_streamer',
};

/** The test server's URL with another role's name (the test server trusts local connections). */
export function urlAs(user: string, serverUrl = TEST_DATABASE_URL): string {
  const url = new URL(serverUrl);
  url.username = user;
  url.password = '';
  url.pathname = '/postgres';
  return url.toString();
}

export interface ServiceDatabaseEnv extends Record<string, string> {
  DATABASE_URL: string;
  DATABASE_MIGRATION_URL: string;
  DATABASE_NAME: string;
}

/**
 * What production does, for one test database: the superuser creates the service's two roles and
 * the database owned by the owner role; the service then connects as its least-privileged role and
 * migrates as the owner. Returns the environment that points a service at it.
 */
export async function serviceDatabase(
  service: ServiceRole | keyof typeof SERVICE_ROLES,
  database: string,
): Promise<ServiceDatabaseEnv> {
  const role = SERVICE_ROLES[service] ?? (service as ServiceRole);
  const env = { DATABASE_URL: urlAs(role), DATABASE_MIGRATION_URL: urlAs(`${role}_owner`), DATABASE_NAME: database };
  await provisionServiceDatabase({
    adminUrl: TEST_DATABASE_URL,
    database,
    ownerUrl: env.DATABASE_MIGRATION_URL,
    runtimeUrl: env.DATABASE_URL,
  });
  return env;
}
