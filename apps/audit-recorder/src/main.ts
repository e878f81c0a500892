import 'reflect-metadata';
import { runService } from '@audit/platform';
import { AppModule } from './app/app.module';
import { AuditRecorderConfig, loadAuditRecorderConfig } from './config';
import { recorderTransport } from './consumer/recorder.transport';

void runService(
  'audit-recorder',
  () => loadAuditRecorderConfig(),
  (config) => AppModule.forRoot(config as AuditRecorderConfig),
  // The consumer is a Nest microservice: stopped (its in-flight chunk committed) before the rest closes.
  { microservices: (app, config) => [recorderTransport(app, config as AuditRecorderConfig)] },
);
