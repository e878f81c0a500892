import 'reflect-metadata';
import { runService } from '@audit/platform';
import { AppModule } from './app/app.module';
import { AuditStreamerConfig, loadAuditStreamerConfig } from './app/config';

runService('audit-streamer', () => loadAuditStreamerConfig(), (config) =>
  AppModule.forRoot(config as AuditStreamerConfig),
).catch((err: unknown) => {
  // Boot failures (an invalid audit event type definition, an unreachable database) end the process
  // with one readable line instead of an unhandled rejection.
  const error = err as Error;
  process.stderr.write(`${JSON.stringify({ level: 'fatal', service: 'audit-streamer', msg: error.message, name: error.name })}\n`);
  process.exit(1);
});
