import 'reflect-metadata';
import { runService } from '@audit/platform';
import { AppModule } from './app/app.module';
import { AuditStreamerConfig, loadAuditStreamerConfig } from './config';
import { streamerTransport } from './ingest/streamer.transport';

void runService(
  'audit-streamer',
  () => loadAuditStreamerConfig(),
  (config) => AppModule.forRoot(config as AuditStreamerConfig),
  // The consumer is a Nest microservice: stopped (its in-flight chunk committed) before the rest closes.
  { microservices: (app, config) => [streamerTransport(app, config as AuditStreamerConfig)] },
);
