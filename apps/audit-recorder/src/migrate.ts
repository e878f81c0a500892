/**
 * Migrate-only mode of the audit-recorder image (`node dist/apps/audit-recorder/src/migrate.js`, the Kubernetes migration
 * Job, `npm run db:migrate`): what the service does at boot before anything else, then exit.
 */
import 'reflect-metadata';
import { runMigrateOnly } from '@audit/platform';
import { migrations, runtimePrivileges } from './migrations';

void runMigrateOnly('audit-recorder', { database: 'audit_recorder', migrations, privileges: runtimePrivileges });
