/**
 * Migrate-only mode of the release-service image (`node dist/apps/release-service/src/migrate.js`, the Kubernetes migration
 * Job, `npm run db:migrate`): what the service does at boot before anything else, then exit.
 */
import 'reflect-metadata';
import { runMigrateOnly } from '@audit/platform';
import { migrations, runtimePrivileges } from './migrations';

void runMigrateOnly('release-service', { database: 'release_service', migrations, privileges: runtimePrivileges });
