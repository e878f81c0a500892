import 'reflect-metadata';
import { runService } from '@audit/platform';
import { AppModule } from './app/app.module';
import { AuditStreamerConfig, loadAuditStreamerConfig } from './config';

void runService(
  'audit-streamer',
  () => loadAuditStreamerConfig(),
  (config) => AppModule.forRoot(config as AuditStreamerConfig),
);
