import 'reflect-metadata';
import { runService } from '@audit/platform';
import { AppModule } from './app/app.module';
import { AuditRecorderConfig, loadAuditRecorderConfig } from './app/config';

void runService(
  'audit-recorder',
  () => loadAuditRecorderConfig(),
  (config) => AppModule.forRoot(config as AuditRecorderConfig),
);
